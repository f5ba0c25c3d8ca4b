"""Several processes per run: the process layout of a job, its torch.distributed environment, one
decision for all ranks, DeepSpeed from the config, and the job's own `trl vllm-serve`.

A multi-process run is a normal data-parallel launch for accelerate and TRL: every process finds
RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT in its environment (torchrun and
`accelerate launch` set them; in a Slurm job `export_slurm_env` does, from submitit's view of the
job) and TrainingArguments builds the process group from them (gloo on CPU, nccl on GPU).

The layout comes from the hardware preset: `nodes` x `processes_per_node` processes, one per GPU on
GPU presets. With `generation=vllm_server` under `launcher=slurm`, the job itself runs the server:
`vllm_server_gpus` GPUs of the (single) node serve rollouts and the other GPUs train, the layout
of open-r1's Slurm script.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import random
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from r1exp.errors import ConfigError, MissingDependencyError, UserError

if TYPE_CHECKING:
    from r1exp.schema import Hardware
    from r1exp.sections import Generation, Sections

log = logging.getLogger(__name__)
# GRPOConfig's vllm_server_port default, where the trainer looks when a config names no server URL or port
# (the Slurm launcher cannot import TRL cheaply; tests/unit/test_distributed.py pins it to TRL's).
GRPO_VLLM_SERVER_PORT = 8000
T = TypeVar("T")

# DeepSpeed configs for TrainingArguments(deepspeed=...): "auto" values are filled in by
# transformers from the trainer's own settings (batch sizes, bf16, gradient clipping, lr).
_DEEPSPEED_COMMON: dict[str, Any] = {
    "bf16": {"enabled": "auto"},
    "fp16": {"enabled": "auto"},
    "gradient_accumulation_steps": "auto",
    "gradient_clipping": "auto",
    "train_batch_size": "auto",
    "train_micro_batch_size_per_gpu": "auto",
}
DEEPSPEED: dict[str, dict[str, Any]] = {
    # Optimizer state and gradients sharded across the data-parallel processes.
    "zero2": {
        **_DEEPSPEED_COMMON,
        "zero_optimization": {"stage": 2, "overlap_comm": True, "contiguous_gradients": True},
    },
    # Parameters sharded too (full fine-tunes of 7B models); the final model is saved gathered in 16 bit.
    "zero3": {
        **_DEEPSPEED_COMMON,
        "zero_optimization": {
            "stage": 3,
            "overlap_comm": True,
            "contiguous_gradients": True,
            "stage3_gather_16bit_weights_on_model_save": True,
        },
    },
}


@dataclass(frozen=True)
class Layout:
    """Processes of one run: `nodes` x `tasks_per_node` trainers, plus GPUs kept for a vLLM server."""

    nodes: int = 1
    tasks_per_node: int = 1
    gpus_per_node: int = 0
    # GPUs of node 0 that run `trl vllm-serve` instead of a trainer (0: no server in the job).
    server_gpus: int = 0

    @property
    def world_size(self) -> int:
        return self.nodes * self.tasks_per_node


def serves_vllm(hardware: Hardware, generation: Generation, launcher: str) -> bool:
    """True when the job starts its own `trl vllm-serve` (generation=vllm_server under launcher=slurm)."""
    return (
        generation.use_vllm
        and generation.vllm_mode == "server"
        and launcher == "slurm"
        and hardware.vllm_server_gpus > 0
    )


def job_layout(
    s: Sections, nodes: int | None = None, tasks_per_node: int | None = None, gpus_per_node: int | None = None
) -> Layout:
    """The layout of a run from its hardware preset; explicit values (the launcher's) win over the preset's.

    The preset's counts are whole numbers in range once `s.hardware` is read (schema.Hardware's RANGES).
    """
    hardware = s.hardware
    nodes = hardware.nodes if nodes is None else nodes
    tasks = hardware.processes_per_node if tasks_per_node is None else tasks_per_node
    gpus = hardware.gpus_per_node if gpus_per_node is None else gpus_per_node
    if hardware.device == "cpu" and gpus:
        raise ConfigError(
            f"hardware={hardware.name} runs on CPU but asks for {gpus} GPU(s); set hardware.gpus_per_node=0"
        )
    if not serves_vllm(hardware, s.generation, s.launcher):
        return Layout(nodes=nodes, tasks_per_node=tasks, gpus_per_node=gpus)
    server = hardware.vllm_server_gpus
    if nodes != 1:
        raise ConfigError(
            f"generation=vllm_server with a server in the job runs on one node, not hardware.nodes={nodes}; "
            "use generation=vllm_colocate on several nodes, or hardware.vllm_server_gpus=0 with your own server"
        )
    if gpus <= server:
        raise ConfigError(
            f"generation=vllm_server on Slurm keeps {server} GPU(s) for trl vllm-serve and trains on the rest, "
            f"but hardware.gpus_per_node={gpus}; use a preset with more GPUs (hardware=multi_gpu), "
            "generation=vllm_colocate, or hardware.vllm_server_gpus=0 with a server you started"
        )
    return Layout(nodes=1, tasks_per_node=gpus - server, gpus_per_node=gpus, server_gpus=server)


def world() -> tuple[int, int]:
    """(rank, world size) of this process under torchrun, accelerate or a Slurm job; (0, 1) alone."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def is_main() -> bool:
    return world()[0] == 0


def ddp_backend(device: str) -> str:
    """torch.distributed backend for the preset's device: nccl between GPUs, gloo between CPU processes."""
    return "nccl" if device == "cuda" else "gloo"


def visible_gpus(count: int, environ: Mapping[str, str] | None = None) -> list[str]:
    """The node's GPU ids this job may use: Slurm's CUDA_VISIBLE_DEVICES when set, else 0..count-1."""
    environ = os.environ if environ is None else environ
    given = [d for d in environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return given if len(given) >= count else [str(i) for i in range(count)]


def slurm_env(layout: Layout, job_env: Any, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Variables a task of a multi-process Slurm job needs beyond what submitit exports.

    `job_env` is submitit's JobEnvironment. The trainers of a node see the node's training GPUs and
    accelerate gives each the one at its LOCAL_RANK (so no task is narrowed to a single GPU); with a
    server in the job, the server's GPUs are the node's last ones and hidden from the trainers.
    """
    env: dict[str, str] = {}
    if layout.gpus_per_node and layout.server_gpus:
        gpus = visible_gpus(layout.gpus_per_node, environ)
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus[: len(gpus) - layout.server_gpus])
    # One thread pool per process: the job's CPUs are shared by the node's tasks.
    cpus = (environ or os.environ).get("SLURM_CPUS_PER_TASK")
    if cpus:
        env["OMP_NUM_THREADS"] = cpus
    return env


# Below Linux's default ephemeral range (32768-60999), from which every outgoing connection on the node
# takes its local port: submitit's own choice (20000-60000) met one of them on a busy node (EADDRINUSE).
MASTER_PORTS = (20000, 32767)


def master_port(job_id: str) -> int:
    """The rendezvous port of a Slurm job: derived from its id, so a requeued job meets on the same port."""
    low, high = MASTER_PORTS
    return random.Random(str(job_id)).randint(low, high)


def export_slurm_env(layout: Layout) -> dict[str, str]:
    """In a task of a Slurm job with several tasks: set the torch.distributed variables from Slurm's."""
    import submitit

    job_env = submitit.JobEnvironment()
    if job_env.num_tasks != layout.world_size:
        raise ConfigError(
            f"the Slurm job has {job_env.num_tasks} task(s) but the run's layout needs {layout.world_size}; "
            "let the launcher set hydra.launcher.nodes/tasks_per_node from the hardware preset"
        )
    # RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR (the job's first node) and the
    # MASTER_PORT set here, which submitit keeps.
    os.environ["MASTER_PORT"] = str(master_port(job_env.job_id))
    dist = submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)
    env = slurm_env(layout, job_env)
    os.environ.update(env)
    # Into the task's own log (.submitit/JOBID/JOBID_RANK_log.err), before Hydra sets up logging.
    print(
        f"r1exp: rank {dist.rank} of {dist.world_size} (master {dist.master_addr}:{dist.master_port})",
        file=sys.stderr,
        flush=True,
    )
    return env


# What torchrun, accelerate and export_slurm_env set for the ranks of a process group.
DIST_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@contextmanager
def single_process_env() -> Iterator[None]:
    """Within the block this process looks like a single-process run (its rank variables hidden)."""
    saved = {k: os.environ.pop(k) for k in DIST_VARS if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def on_rank0(decide: Callable[[], T]) -> T:
    """Run `decide` on rank 0 only and return its result on every rank (one decision for the group).

    An error on rank 0 is raised on every rank, so no rank waits for the others forever.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return decide()
    box: list[Any] = [None]
    if dist.get_rank() == 0:
        try:
            box = [("ok", decide())]
        except UserError as exc:
            box = [("user", str(exc))]
            dist.broadcast_object_list(box, src=0)
            raise
        except Exception as exc:
            box = [("bug", f"{type(exc).__name__}: {exc}")]
            dist.broadcast_object_list(box, src=0)
            raise
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "user":
        raise UserError(value)
    if kind == "bug":
        raise RuntimeError(f"rank 0 failed: {value}")
    return value


def deepspeed_config(name: Any) -> dict[str, Any] | str | None:
    """TrainingArguments' `deepspeed` value for `hardware.deepspeed=name` (zero2, zero3, a JSON file, or null)."""
    if name in (None, "none", False):
        return None
    if name in DEEPSPEED:
        return {**DEEPSPEED[name], "zero_optimization": dict(DEEPSPEED[name]["zero_optimization"])}
    if isinstance(name, str) and name.endswith(".json"):
        if not Path(name).is_file():
            raise ConfigError(f"hardware.deepspeed={name}: no such DeepSpeed config file")
        return name
    raise ConfigError(f"hardware.deepspeed={name!r} is unknown; use zero2, zero3, a DeepSpeed .json file, or null")


def require_deepspeed(name: Any) -> None:
    """hardware.deepspeed=name needs the deepspeed package: one line before any model loads."""
    if deepspeed_config(name) is not None and importlib.util.find_spec("deepspeed") is None:
        raise MissingDependencyError(
            f"hardware.deepspeed={name} needs DeepSpeed, which is not installed: on the GPU "
            "machines run pip install deepspeed, or set hardware.deepspeed=null"
        )


def vllm_serve_command(s: Sections, model_path: str, layout: Layout) -> list[str]:
    """`trl vllm-serve` for the run's model on the job's server GPUs, listening where the trainer looks."""
    options = s.generation.options
    base_url = options.get("vllm_server_base_url")
    port = (urlsplit(str(base_url)).port if base_url else None) or int(
        options.get("vllm_server_port") or GRPO_VLLM_SERVER_PORT
    )
    trl = Path(sys.executable).with_name("trl")
    cmd = [str(trl) if trl.exists() else "trl", "vllm-serve", "--model", model_path, "--port", str(port)]
    model = s.model
    if model.revision:
        cmd += ["--revision", str(model.revision)]
    cmd += ["--tensor_parallel_size", str(layout.server_gpus)]
    if model.dtype and model.dtype != "auto":
        cmd += ["--dtype", str(model.dtype)]
    # Room for the longest prompt plus the completion budget, and no more (the KV cache is sized by it).
    max_len = vllm_max_model_length(s.generation, s.trainer.max_completion_length)
    if max_len:
        cmd += ["--max_model_len", str(max_len)]
    # The server has its GPUs to itself: most of their memory goes to the KV cache.
    cmd += ["--gpu_memory_utilization", "0.9"]
    return cmd


def vllm_max_model_length(generation: Generation, max_completion_length: int) -> int | None:
    """vLLM's context: `generation.vllm_max_model_length`, else prompt budget + completion budget (both
    checked when the generation section is read)."""
    if generation.vllm_max_model_length is not None:
        return generation.vllm_max_model_length
    if generation.prompt_budget is None:
        return None
    return generation.prompt_budget + max_completion_length


def vllm_server_env(layout: Layout, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The server's environment: the node's last `server_gpus` GPUs, none of the trainers' rank variables."""
    environ = dict(os.environ if environ is None else environ)
    gpus = visible_gpus(layout.gpus_per_node, environ)
    env = {k: v for k, v in environ.items() if k not in DIST_VARS}
    env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus[-layout.server_gpus :])
    return env


@contextmanager
def vllm_server(cmd: list[str], env: Mapping[str, str], log_file: Path) -> Iterator[subprocess.Popen]:
    """Run the server for the duration of the block (the trainer waits for it to answer); stop it after."""
    if importlib.util.find_spec("vllm") is None:
        raise MissingDependencyError(
            "generation=vllm_server needs vLLM on the compute nodes, which is not installed: run "
            "pip install 'r1exp[vllm]' in the job's environment, or use generation=hf"
        )
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log.info("r1exp: starting %s (log: %s)", shlex.join(cmd), log_file)
    with log_file.open("ab") as out:
        # Its own process group, so stopping it also stops vLLM's worker processes.
        proc = subprocess.Popen(cmd, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen, grace_s: float = 30) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def peer_failed_since(status: Path, since: float) -> bool:
    """Whether another rank recorded its failure in `status` after `since` (a wall-clock time).

    A rank that fails takes its peers down with it (their collectives break); the first failure
    recorded is the cause, and a peer's later "connection closed" must not replace it.
    """
    try:
        if status.stat().st_mtime < since:
            return False
        record = json.loads(status.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict) or record.get("status") != "failed":
        return False
    return record.get("rank") not in (None, world()[0])
