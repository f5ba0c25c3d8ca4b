"""Process layouts, Slurm resources per job, one decision for all ranks, DeepSpeed from the config, and
the job's own vLLM server (its command and environment; vLLM itself does not run here)."""

from types import SimpleNamespace

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
from hypothesis import given, settings
from hypothesis import strategies as st

from hydra_plugins.r1exp_launcher.slurm import dead_ranks, job_resources, submission_error
from r1exp import distributed
from r1exp.distributed import Layout, job_layout, on_rank0
from r1exp.errors import ConfigError, MissingDependencyError, UserError
from r1exp.grpo_args import build_grpo_config, grpo_kwargs
from r1exp.sections import Sections
from tests.conftest import compose


def _hydra_compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from tests.conftest import CONF

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return hydra_compose("config", overrides=overrides, return_hydra_config=True)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["hardware=cpu"], Layout(1, 1, 0, 0)),
        (["hardware=rtx3090"], Layout(1, 1, 1, 0)),
        (["hardware=multi_gpu"], Layout(1, 4, 4, 0)),
        (["hardware=multi_gpu", "hardware.nodes=2"], Layout(2, 4, 4, 0)),
        (["hardware=cpu", "hardware.processes_per_node=2"], Layout(1, 2, 0, 0)),
        # the server GPU is kept only when the job starts the server itself (Slurm)
        (["hardware=multi_gpu", "generation=vllm_server"], Layout(1, 4, 4, 0)),
        (["hardware=multi_gpu", "generation=vllm_server", "launcher=slurm"], Layout(1, 3, 4, 1)),
        (["hardware=multi_gpu", "generation=vllm_colocate", "launcher=slurm"], Layout(1, 4, 4, 0)),
    ],
)
def test_layout_follows_the_hardware_preset(overrides, expected):
    layout = job_layout(Sections(compose(overrides)))
    assert layout == expected
    assert layout.world_size == expected.nodes * expected.tasks_per_node


@pytest.mark.parametrize(
    "overrides, field",
    [
        (["hardware=rtx3090", "generation=vllm_server", "launcher=slurm"], "hardware.gpus_per_node=1"),
        (["hardware=multi_gpu", "hardware.nodes=2", "generation=vllm_server", "launcher=slurm"], "hardware.nodes=2"),
        (["hardware=cpu", "hardware.gpus_per_node=2"], "gpus_per_node=0"),
        (["hardware=multi_gpu", "hardware.nodes=0"], "hardware.nodes=0"),
    ],
)
def test_impossible_layouts_are_one_line(overrides, field):
    with pytest.raises(ConfigError) as err:
        job_layout(Sections(compose(overrides)))
    assert field in str(err.value) and "\n" not in str(err.value)


def test_cpu_preset_requests_no_gpu_on_slurm():
    params, layout = job_resources(Sections(_hydra_compose(["launcher=slurm", "+experiment=smoke"])))
    assert params["gpus_per_node"] is None  # no --gpus-per-node at all
    assert params["nodes"] == 1 and params["tasks_per_node"] == 1 and layout.world_size == 1
    assert "srun_args" not in params and "submitit_folder" not in params and "_target_" not in params


def test_multi_node_preset_flows_into_the_slurm_job():
    cfg = _hydra_compose(["launcher=slurm", "hardware=multi_gpu", "hardware.nodes=2", "hydra.launcher.cpus_per_task=6"])
    params, layout = job_resources(Sections(cfg))
    assert (params["nodes"], params["tasks_per_node"], params["gpus_per_node"]) == (2, 4, 4)
    assert params["cpus_per_task"] == 6 and layout.world_size == 8
    # a rank that dies ends the job's other tasks instead of leaving them in a collective
    assert params["srun_args"] == ["--kill-on-bad-exit=1"]


def test_two_cpu_processes_per_job_and_vllm_server_layout():
    params, _ = job_resources(
        Sections(_hydra_compose(["launcher=slurm", "+experiment=smoke", "hardware.processes_per_node=2"]))
    )
    assert params["tasks_per_node"] == 2 and params["gpus_per_node"] is None
    cfg = _hydra_compose(["launcher=slurm", "hardware=multi_gpu", "generation=vllm_server"])
    params, layout = job_resources(Sections(cfg))
    assert params["tasks_per_node"] == 3 and params["gpus_per_node"] == 4 and layout.server_gpus == 1


def test_vllm_server_command_and_gpus():
    cfg = compose(["hardware=multi_gpu", "generation=vllm_server", "launcher=slurm", "model.dtype=bfloat16"])
    layout = job_layout(Sections(cfg))
    cmd = distributed.vllm_serve_command(Sections(cfg), "/models/qwen", layout)
    assert cmd[1:5] == ["vllm-serve", "--model", "/models/qwen", "--port"]
    port = cmd[cmd.index("--port") + 1]
    assert f":{port}" in cfg.generation.vllm_server_base_url
    assert cmd[cmd.index("--tensor_parallel_size") + 1] == "1" and cmd[cmd.index("--dtype") + 1] == "bfloat16"
    budget = cfg.generation.prompt_budget + cfg.trainer.max_completion_length
    assert cmd[cmd.index("--max_model_len") + 1] == str(budget)
    # the server takes the node's last GPU; the trainers' rank variables stay out of its environment
    env = distributed.vllm_server_env(layout, {"CUDA_VISIBLE_DEVICES": "4,5,6,7", "RANK": "0", "PATH": "/bin"})
    assert env["CUDA_VISIBLE_DEVICES"] == "7" and "RANK" not in env and env["PATH"] == "/bin"
    assert distributed.vllm_server_env(layout, {})["CUDA_VISIBLE_DEVICES"] == "3"
    # the trainers see the others (accelerate gives each the one at its LOCAL_RANK)
    for rank in range(3):
        job_env = SimpleNamespace(local_rank=rank)
        env = distributed.slurm_env(layout, job_env, {"CUDA_VISIBLE_DEVICES": "4,5,6,7", "SLURM_CPUS_PER_TASK": "8"})
        assert env == {"CUDA_VISIBLE_DEVICES": "4,5,6", "OMP_NUM_THREADS": "8"}
    # without a server every GPU of the node trains: nothing to hide
    plain = job_layout(Sections(compose(["hardware=multi_gpu", "launcher=slurm"])))
    assert distributed.slurm_env(plain, SimpleNamespace(local_rank=3), {"CUDA_VISIBLE_DEVICES": "4,5,6,7"}) == {}


VLLM_SERVER_JOB = ["launcher=slurm", "hardware=multi_gpu", "generation=vllm_server", "model=qwen0.5b"]


def _server_job(monkeypatch, tmp_path, overrides: list[str], num: int):
    """A Slurm job's typed config and layout with generation=vllm_server, and the servers it starts (recorded)."""
    from contextlib import contextmanager

    from omegaconf import open_dict

    cfg = _hydra_compose([*VLLM_SERVER_JOB, *overrides, f"hydra.sweep.dir={tmp_path}"])
    with open_dict(cfg.hydra.job):
        cfg.hydra.job.num = num
    started = []

    @contextmanager
    def server(cmd, env, log_file):
        started.append((cmd, env, log_file))
        yield

    monkeypatch.setattr(distributed, "vllm_server", server)
    s = Sections(cfg)
    _, layout = job_resources(s)
    return s, layout, started


def test_the_slurm_task_starts_the_jobs_vllm_server_from_its_typed_config(monkeypatch, tmp_path):
    from hydra_plugins.r1exp_launcher.slurm import SlurmLauncher

    s, layout, started = _server_job(monkeypatch, tmp_path, ["model.revision=v1"], num=3)
    launcher = SlurmLauncher.__new__(SlurmLauncher)
    with launcher._vllm_server(s, layout, rank=1):
        assert started == []  # rank 0 alone runs the server
    with launcher._vllm_server(s, layout, rank=0):
        (cmd, env, log_file), *_ = started
    assert cmd[cmd.index("--model") + 1] == "Qwen/Qwen2.5-0.5B" and cmd[cmd.index("--revision") + 1] == "v1"
    assert cmd[cmd.index("--tensor_parallel_size") + 1] == "1" and "--dtype" not in cmd  # model.dtype=auto
    assert log_file == tmp_path / "3" / "vllm_server.log" and "RANK" not in env


def test_a_wrong_value_starts_no_vllm_server_and_is_left_to_the_runs_own_checks(monkeypatch, tmp_path, caplog):
    """The server command reads the model and trainer sections: a wrong value there starts no server, and the
    run refuses it in one line in its own status.json (not only in the Slurm log)."""
    from hydra_plugins.r1exp_launcher.slurm import SlurmLauncher

    s, layout, started = _server_job(monkeypatch, tmp_path, ["trainer.max_completion_length=0"], num=0)
    ran = []
    with caplog.at_level("WARNING"), SlurmLauncher.__new__(SlurmLauncher)._vllm_server(s, layout, rank=0):
        ran.append(True)
    assert ran == [True] and started == []
    assert "no vLLM server started: trainer.max_completion_length=0" in caplog.text


def test_vllm_server_needs_vllm_on_the_node(tmp_path):
    server = distributed.vllm_server(["true"], {}, tmp_path / "vllm.log")
    with pytest.raises(MissingDependencyError, match="generation=vllm_server needs vLLM"), server:
        pass


@pytest.mark.parametrize("name, stage", [("zero2", 2), ("zero3", 3)])
def test_deepspeed_from_the_config(name, stage, tmp_path):
    cfg = compose(["hardware=multi_gpu", f"hardware.deepspeed={name}"])
    kwargs = grpo_kwargs(Sections(cfg), tmp_path, [1.0, 0.1])
    assert kwargs["deepspeed"]["zero_optimization"]["stage"] == stage
    assert kwargs["deepspeed"]["train_micro_batch_size_per_gpu"] == "auto"
    # the config itself validates anywhere; the run needs the package (one line, before any model)
    assert build_grpo_config(Sections(cfg), tmp_path, [1.0, 0.1], check_only=True).deepspeed is None
    with pytest.raises(MissingDependencyError) as err:
        build_grpo_config(Sections(compose(["hardware=cpu", f"hardware.deepspeed={name}"])), tmp_path, [1.0, 0.1])
    assert "pip install deepspeed" in str(err.value) and "\n" not in str(err.value)


def test_deepspeed_file_and_unknown_names(tmp_path):
    ds = tmp_path / "ds.json"
    ds.write_text("{}")
    assert distributed.deepspeed_config(str(ds)) == str(ds)
    assert distributed.deepspeed_config(None) is None
    assert grpo_kwargs(Sections(compose(["hardware=cpu"])), tmp_path, [1.0, 0.1]).get("deepspeed") is None
    for bad in ("zero4", str(tmp_path / "missing.json")):
        with pytest.raises(ConfigError, match=r"hardware\.deepspeed="):
            distributed.deepspeed_config(bad)


def test_sbatch_refusal_is_one_line():
    from submitit.core.utils import FailedJobError

    exc = FailedJobError(
        "sbatch: error: Invalid generic resource (gres) specification\nTraceback (most recent call last):\n  ..."
    )
    assert submission_error(exc) == "sbatch: error: Invalid generic resource (gres) specification"


def test_dead_ranks_from_srun_messages():
    text = "step 3\nsrun: error: node7: task 1: Killed\nsrun: error: node7: tasks 2-3: Exited with exit code 1\n"
    assert dead_ranks(text) == ["rank 1 on node7: Killed", "rank 2-3 on node7: Exited with exit code 1"]
    assert dead_ranks("all fine\n") == []


def _decide(rank: int, world: int, init: str, results) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        # every rank would decide differently on its own; rank 0's decision reaches all of them
        results[rank] = on_rank0(lambda: f"checkpoint-{10 + dist.get_rank()}")
        try:
            on_rank0(lambda: (_ for _ in ()).throw(UserError("run dir is locked by pid 1")))
        except UserError as exc:
            results[rank + world] = str(exc)
    finally:
        dist.destroy_process_group()


def test_rank0_decides_for_every_rank(tmp_path):
    assert on_rank0(lambda: 7) == 7  # one process: no group needed
    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(_decide, args=(2, f"file://{tmp_path / 'rendezvous'}", results), nprocs=2, join=True)
    assert results[0] == results[1] == "checkpoint-10"
    # an error on rank 0 is raised on every rank, so none waits for the others
    assert results[2] == results[3] == "run dir is locked by pid 1"


def test_gres_sites_get_no_second_gpu_option():
    cfg = _hydra_compose(["launcher=slurm", "hardware=multi_gpu", "hydra.launcher.gres=gpu:a100:4"])
    params, layout = job_resources(Sections(cfg))
    assert params["gpus_per_node"] is None and params["gres"] == "gpu:a100:4"
    assert layout.tasks_per_node == 4


def test_the_first_failed_rank_is_the_recorded_cause(tmp_path, monkeypatch):
    import json
    import time

    status = tmp_path / "status.json"
    assert not distributed.peer_failed_since(status, 0.0)  # nothing recorded
    status.write_text(json.dumps({"status": "failed", "error": "rank 1: boom", "rank": 1}))
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert distributed.peer_failed_since(status, time.time() - 60)
    # a record from an earlier launch, or this rank's own, is no peer's failure
    assert not distributed.peer_failed_since(status, time.time() + 60)
    monkeypatch.setenv("RANK", "1")
    assert not distributed.peer_failed_since(status, time.time() - 60)
    status.write_text(json.dumps({"status": "ok", "error": None}))
    assert not distributed.peer_failed_since(status, time.time() - 60)


def test_config_check_starts_no_process_group(monkeypatch, tmp_path):
    import os

    # the environment of rank 0 of 2, before rank 1 exists: a check must not wait for it
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    cfg = compose(["hardware=cpu", "hardware.processes_per_node=2"])
    assert grpo_kwargs(Sections(cfg), tmp_path, [1.0, 0.1])["ddp_backend"] == "gloo"  # what the run uses
    args = build_grpo_config(Sections(cfg), tmp_path, [1.0, 0.1], check_only=True)
    assert args.world_size == 1 and not dist.is_initialized()
    assert os.environ["WORLD_SIZE"] == "2" and os.environ["RANK"] == "0"


def test_wrong_deepspeed_value_stops_the_submission():
    with pytest.raises(ConfigError, match=r"hardware\.deepspeed='zero5' is unknown"):
        job_resources(Sections(_hydra_compose(["launcher=slurm", "hardware=multi_gpu", "hardware.deepspeed=zero5"])))


def test_launcher_keeps_the_error_a_rank_recorded_in_this_launch(tmp_path):
    import json
    import time

    from hydra_plugins.r1exp_launcher.slurm import _own_failure

    status = tmp_path / "status.json"
    assert _own_failure(status, 0.0) is None
    status.write_text(json.dumps({"status": "failed", "error": "rank 1: CUDA out of memory", "rank": 1}))
    assert _own_failure(status, time.time() - 60)["error"] == "rank 1: CUDA out of memory"
    assert _own_failure(status, time.time() + 60) is None  # written by an earlier launch
    status.write_text(json.dumps({"status": "ok", "error": None}))
    assert _own_failure(status, time.time() - 60) is None


@settings(max_examples=300)
@given(
    job_id=st.one_of(
        st.integers(1, 10**9).map(str),
        st.tuples(st.integers(1, 10**7), st.integers(0, 999)).map(lambda t: f"{t[0]}_{t[1]}"),
    )
)
def test_the_rendezvous_port_is_the_jobs_own_and_outside_the_ephemeral_range(job_id):
    # A requeued job keeps its id, so its ranks meet on the same port; the port is never one the
    # kernel hands to an outgoing connection (32768-60999 by default), which met submitit's choice in CI.
    port = distributed.master_port(job_id)
    assert port == distributed.master_port(job_id)
    assert 20000 <= port < 32768


def test_the_vllm_server_port_default_is_trls():
    import dataclasses

    from trl import GRPOConfig

    fields = {f.name: f.default for f in dataclasses.fields(GRPOConfig)}
    assert fields["vllm_server_port"] == distributed.GRPO_VLLM_SERVER_PORT
    assert fields["vllm_server_base_url"] is None  # so the port (and the host) are what the trainer uses
