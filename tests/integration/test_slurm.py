"""launcher=slurm on a real cluster (tools/slurm-local/start.sh starts one on localhost): a two-job
sweep whose jobs each run 2 CPU processes (gloo) in one Slurm job, a requeued job that resumes with
all its ranks, a killed rank that fails its job within a bounded time, a cancelled job that fails
the sweep while the other job's results are kept, an sbatch refusal on one line, and a dry run that
prints the script sbatch really gets. Without a cluster: launcher=slurm on a machine without Slurm is
one line, and the dry run shows each job's real layout.

Skipped when no Slurm answers; with R1EXP_REQUIRE_SLURM=1 (CI) that is a failure instead. The jobs
run in pytest's tmp dir, so on a multi-node cluster pass a --basetemp the nodes share.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from r1exp.common import jsonl
from r1exp.errors import one_line
from tests.conftest import ROOT, error_lines

# One worker runs them all under pytest-xdist (--dist loadfile): they share the two-core cluster.
pytestmark = pytest.mark.slow

# The local cluster has no GPUs and two cores: one core per process and a little memory per job
# (a CPU preset requests no GPU by itself). A job of 2 processes takes the whole node.
SLURM = [
    "launcher=slurm",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=4",
    "hydra.launcher.timeout_min=20",
]
# Two trainer processes per job, one torch.distributed group (gloo) per job.
TWO_RANKS = "hardware.processes_per_node=2"


def _slurm_problem() -> str | None:
    """Why Slurm cannot run these tests here, or None when it can."""
    for tool in ("sinfo", "sbatch", "sacct", "scontrol", "scancel"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not on PATH (start a local cluster with tools/slurm-local/start.sh)"
    try:
        nodes = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
        acct = subprocess.run(["sacct", "-n", "-X", "-j", "1"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired as exc:
        return f"`{' '.join(exc.cmd)}` did not answer within 30 s"
    if nodes.returncode != 0:
        return f"sinfo failed: {one_line(nodes.stderr)}"
    if not {"idle", "mixed", "allocated"} & set(nodes.stdout.split()):
        return f"no usable Slurm node (sinfo states: {nodes.stdout.split()})"
    if acct.returncode != 0:
        # Without accounting submitit cannot see a job that died, and the multirun hangs forever.
        return f"Slurm accounting is not available (sacct failed: {one_line(acct.stderr)})"
    return None


@pytest.fixture(scope="module")
def slurm():
    problem = _slurm_problem()
    if problem is None:
        return
    if os.environ.get("R1EXP_REQUIRE_SLURM") == "1":
        pytest.fail(f"R1EXP_REQUIRE_SLURM=1 but {problem}")
    pytest.skip(f"no Slurm cluster: {problem}")


@pytest.fixture
def sweep(tmp_path, tiny_cache):
    """Start `launch.py -m ARGS` into tmp_path/sweep in the background; its jobs are cancelled at the end."""
    from r1exp.models import TinySpec, build_tiny

    # Weights exist before the ranks start, as for any real model.
    build_tiny(TinySpec(), tiny_cache)
    started: list[subprocess.Popen] = []
    sweep_dir = tmp_path / "sweep"

    def start(*args: str) -> subprocess.Popen:
        env = {**os.environ, "R1EXP_CACHE": str(tiny_cache), "WANDB_MODE": "offline", "PYTHONUNBUFFERED": "1"}
        # Output goes to a file: a pipe nobody reads while the sweep runs could fill up and block it.
        with (tmp_path / "launch.log").open("w") as log:
            proc = subprocess.Popen(
                [sys.executable, str(ROOT / "launch.py"), "-m", *SLURM, *args, f"hydra.sweep.dir={sweep_dir}"],
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        proc.log = tmp_path / "launch.log"
        started.append(proc)
        return proc

    start.dir = sweep_dir
    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    ids = _slurm_ids(sweep_dir)
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=30)


def _slurm_ids(sweep_dir: Path) -> list[str]:
    """Slurm ids of a sweep's jobs ("123" for a single job, "124_0", "124_1" for an array)."""
    pickles = sweep_dir.glob(".submitit/*/*_submitted.pkl")
    return sorted(p.name.removesuffix("_submitted.pkl") for p in pickles)


def _finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    """Wait for the multirun; its exit status and output."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"the multirun did not end within {timeout} s: {proc.log.read_text()[-3000:]}")
    return proc.returncode, proc.log.read_text()


def _wait_for(what: str, ready, proc: subprocess.Popen, timeout: float = 300) -> float:
    """Poll `ready()` until true; returns the time.monotonic() at which it was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return time.monotonic()
        if proc.poll() is not None:
            pytest.fail(f"the multirun ended while waiting for {what}: {proc.log.read_text()[-3000:]}")
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def _steps(run: Path) -> list[int]:
    return [r["step"] for r in jsonl.read(run / "metrics.jsonl")]


def _checkpoint_done(run: Path, step: int) -> bool:
    return (run / "checkpoints" / f"checkpoint-{step}" / "trainer_state.json").exists()


def _status(run: Path) -> dict:
    file = run / "status.json"
    return json.loads(file.read_text()) if file.exists() else {}


def _sacct_states(job_id: str) -> list[str]:
    """Every state a job went through, requeues included (sacct --duplicates)."""
    out = subprocess.run(
        ["sacct", "-n", "-P", "-X", "-D", "-j", job_id, "-o", "State"], capture_output=True, text=True, timeout=30
    )
    return out.stdout.split()


def _rank_pid(slurm_id: str, rank: int) -> int | None:
    """The pid of one task (rank) of a running Slurm job, found by the variables srun gave it."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            raw = (proc / "environ").read_bytes()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        env = dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)
        job = env.get("SLURM_JOB_ID")
        if env.get("SLURM_ARRAY_JOB_ID"):
            job = f"{env['SLURM_ARRAY_JOB_ID']}_{env.get('SLURM_ARRAY_TASK_ID')}"
        if job == slurm_id and env.get("SLURM_PROCID") == str(rank) and b"submitit" in cmdline:
            return int(proc.name)
    return None


def test_two_job_sweep_of_two_processes_each(slurm, sweep):
    proc = sweep("+experiment=smoke", TWO_RANKS, "trainer.max_steps=4", "trainer.save_steps=2", "seed=1,2")
    rc, err = _finish(proc)
    assert rc == 0, err[-3000:]

    ids = _slurm_ids(sweep.dir)
    assert len(ids) == 2 and all("_" in i for i in ids), ids
    script = next(sweep.dir.glob(".submitit/*/*_submission.sh")).read_text()
    assert "--ntasks-per-node=2" in script and "--kill-on-bad-exit=1" in script
    assert "gpu" not in script.lower()  # a CPU preset requests no GPU
    for job, slurm_id in zip(("0", "1"), ids, strict=True):
        run = sweep.dir / job
        assert _steps(run) == [1, 2, 3, 4]  # one row per step: rank 0 alone writes
        assert _checkpoint_done(run, 4) and (run / "checkpoints" / "final").is_dir()
        assert _status(run)["status"] == "ok"
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["world_size"] == 2 and manifest["finished"]
        assert _sacct_states(slurm_id) == ["COMPLETED"]
        # both ranks ran in this job's dir (each task logs its own rank)
        logs = "".join(p.read_text() for p in sweep.dir.glob(f".submitit/{slurm_id}/*_log.*"))
        assert "rank 0 of 2" in logs and "rank 1 of 2" in logs
    assert (sweep.dir / "comparison.md").exists()


def test_sbatch_refusal_is_one_line(slurm, launch, tmp_path):
    # the local node has no GPU: sbatch refuses the rtx3090 job's GPU request, after the CPU job of
    # the same sweep went out (each set of resources is its own job array)
    sweep_dir = tmp_path / "refused"
    proc = launch(*SLURM, "+experiment=smoke", "hardware=cpu,rtx3090", f"hydra.sweep.dir={sweep_dir}", timeout=120)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln.startswith("[")]
    assert len(lines) == 1 and lines[0].startswith("r1exp: error: sbatch refused the job"), proc.stderr[-2000:]
    assert "Invalid generic resource" in lines[0] and "Traceback" not in proc.stderr
    # all or nothing: the job already submitted is cancelled, not left running unwatched
    (submitted,) = _slurm_ids(sweep_dir)
    deadline = time.monotonic() + 60
    while "CANCELLED" not in " ".join(_sacct_states(submitted)) and time.monotonic() < deadline:
        time.sleep(1)
    assert "CANCELLED" in " ".join(_sacct_states(submitted)), _sacct_states(submitted)


def test_killed_rank_fails_its_job_within_a_bounded_time(slurm, sweep):
    proc = sweep("+experiment=smoke", TWO_RANKS, "trainer.max_steps=500", "trainer.save_steps=100")
    run = sweep.dir / "0"
    _wait_for("training", lambda: len(_steps(run)) >= 2, proc)
    (slurm_id,) = _slurm_ids(sweep.dir)
    pid = _rank_pid(slurm_id, 1)
    assert pid is not None, f"no process of rank 1 of Slurm job {slurm_id}"

    os.kill(pid, 9)
    killed = time.monotonic()
    rc, err = _finish(proc, timeout=240)
    took = time.monotonic() - killed
    print(f"\nslurm: kill -9 of rank 1 -> job failed {took:.1f} s")
    assert rc != 0, err[-3000:]
    assert took <= 120, f"the job failed only {took:.0f} s after its rank 1 was killed"
    status = _status(run)
    assert status["status"] == "failed" and "rank 1" in status["error"], status
    assert "FAILED" in _sacct_states(slurm_id) or "CANCELLED" in " ".join(_sacct_states(slurm_id))


STEPS = 30


def test_requeued_job_resumes_with_all_its_ranks(slurm, sweep):
    proc = sweep(
        "+experiment=smoke",
        TWO_RANKS,
        "logger=wandb",
        f"trainer.max_steps={STEPS}",
        "trainer.save_steps=5",
        "trainer.save_total_limit=10",
    )
    run = sweep.dir / "0"
    _wait_for("checkpoint-10 and step 12", lambda: _checkpoint_done(run, 10) and max(_steps(run) or [0]) >= 12, proc)
    before = json.loads((run / "manifest.json").read_text())
    (job_id,) = _slurm_ids(sweep.dir)

    requeued = time.monotonic()
    subprocess.run(["scontrol", "requeue", job_id], check=True, capture_output=True, timeout=30)
    resumed = _wait_for(
        "the requeued job to resume",
        lambda: json.loads((run / "manifest.json").read_text()).get("resumes"),
        proc,
    )
    print(f"\nslurm: requeue -> resumed training {resumed - requeued:.1f} s")
    rc, err = _finish(proc)
    assert rc == 0, err[-3000:]

    assert _steps(run) == list(range(1, STEPS + 1))
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["resumes"] and manifest["resumes"][0]["step"] >= 10
    assert manifest["reference_hash"] == before["reference_hash"]
    assert manifest["finished"] and manifest["final_step"] == STEPS and manifest["world_size"] == 2
    state = json.loads((run / "checkpoints" / f"checkpoint-{STEPS}" / "trainer_state.json").read_text())
    assert state["global_step"] == STEPS
    assert _status(run)["status"] == "ok"
    assert "REQUEUED" in _sacct_states(job_id)
    # One wandb run: one id file, and every offline run dir (one per attempt) carries that id.
    (id_file,) = sweep.dir.rglob("wandb_id.txt")
    run_id = id_file.read_text().strip()
    attempts = sorted(p.name for p in (run / "wandb").glob("offline-run-*"))
    assert len(attempts) >= 2 and all(a.endswith(f"-{run_id}") for a in attempts), attempts


def test_cancelled_job_fails_the_sweep_and_keeps_the_others(slurm, sweep):
    # job 0 would train for minutes; job 1 finishes in seconds
    proc = sweep("+experiment=smoke", "trainer.save_steps=100", "trainer.max_steps=500,12")
    long_run, short_run = sweep.dir / "0", sweep.dir / "1"
    _wait_for("job 0 to train", lambda: len(_steps(long_run)) >= 2, proc)
    ids = _slurm_ids(sweep.dir)
    cancelled = next(i for i in ids if i.endswith("_0"))

    subprocess.run(["scancel", cancelled], check=True, capture_output=True, timeout=30)
    start = time.monotonic()
    rc, err = _finish(proc, timeout=180)
    took = time.monotonic() - start
    print(f"\nslurm: scancel -> multirun failed {took:.1f} s")

    assert rc != 0
    assert took <= 60, f"the multirun noticed the cancelled job only after {took:.0f} s"
    errors = [ln for ln in err.splitlines() if "r1exp:" in ln and cancelled in ln]
    assert errors and "CANCELLED" in errors[0], err[-3000:]
    assert _steps(short_run) == list(range(1, 13))
    assert _status(short_run)["status"] == "ok"
    assert _status(long_run)["status"] == "failed" and cancelled in _status(long_run)["error"]
    report = (sweep.dir / "comparison.md").read_text()
    assert "did not finish" in report and "0 (failed)" in report, report


# --- Without a cluster: no Slurm on the machine, and the dry run (what will really be submitted) ------


def _no_slurm(tmp_path: Path) -> dict:
    """An environment whose PATH holds none of Slurm's commands."""
    empty = tmp_path / "empty-bin"
    empty.mkdir(exist_ok=True)
    return {"PATH": str(empty)}


def _submissions(stdout: str) -> list[str]:
    """The dry run's output, one block per Slurm submission."""
    return ["submission " + block for block in stdout.split("\nsubmission ")[1:]]


def test_without_slurm_launcher_slurm_is_one_line(launch, tmp_path):
    proc = launch("launcher=slurm", "+experiment=smoke", env=_no_slurm(tmp_path), timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "Could not detect" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert line.startswith("r1exp: error: launcher=slurm: Slurm's commands are not on PATH on this machine")
    assert "sbatch" in line and "launcher=local" in line and "hydra.launcher.dry_run=true" in line
    assert not (tmp_path / "multirun").exists()  # refused before Hydra made a sweep dir


def test_dry_run_shows_each_jobs_real_layout_without_slurm(launch, tmp_path):
    """`--cfg hydra` shows the preset's placeholders (gpus_per_node 0, tasks_per_node 1) for
    hardware=multi_gpu; the dry run shows what each job is submitted with."""
    proc = launch(
        "launcher=slurm",
        "hardware=multi_gpu,cpu",
        "trainer.beta=0,0.04",
        "hydra.launcher.dry_run=true",
        env=_no_slurm(tmp_path),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("r1exp: dry run, nothing submitted: 4 job(s) in 2 Slurm submission(s)")
    gpu, cpu = _submissions(proc.stdout)
    assert gpu.startswith("submission 1 (job array of 2): 1 node(s) x 4 task(s), 4 GPU(s) per node, 8 CPU(s)")
    assert "  #0: launcher=slurm hardware=multi_gpu trainer.beta=0\n" in gpu
    assert "  #1: launcher=slurm hardware=multi_gpu trainer.beta=0.04\n" in gpu
    for flag in ("--ntasks-per-node=4", "--gpus-per-node=4", "--nodes=1", "--cpus-per-task=8", "--array=0-1%2"):
        assert f"    #SBATCH {flag}\n" in gpu, flag
    assert "--kill-on-bad-exit=1" in gpu and "export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK" in gpu
    assert cpu.startswith("submission 2 (job array of 2): 1 node(s) x 1 task(s), 0 GPU(s) per node")
    assert "  #2: launcher=slurm hardware=cpu trainer.beta=0\n" in cpu
    assert "#SBATCH --ntasks-per-node=1\n" in cpu and "gpus" not in cpu and "--kill-on-bad-exit" not in cpu
    assert not (tmp_path / "multirun").exists()  # nothing submitted, no sweep dir left


def test_dry_run_into_an_existing_sweep_leaves_it_as_it_was(launch, tmp_path):
    sweep_dir = tmp_path / "sweep"
    (sweep_dir / "0").mkdir(parents=True)
    (sweep_dir / "multirun.yaml").write_text("kept: true\n")
    proc = launch(
        "launcher=slurm", "hydra.launcher.dry_run=true", f"hydra.sweep.dir={sweep_dir}", env=_no_slurm(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in sweep_dir.iterdir()) == ["0", "multirun.yaml"]
    assert (sweep_dir / "multirun.yaml").read_text() == "kept: true\n"


def test_the_sbatch_script_follows_the_resources():
    from hydra_plugins.r1exp_launcher.slurm import sbatch_script

    resources = {"nodes": 2, "tasks_per_node": 8, "gpus_per_node": None, "gres": "gpu:a100:8", "mem_gb": 200}
    script = sbatch_script({**resources, "timeout_min": 60, "partition": "gpu"}, "/sweep/.submitit/%j", 1)
    for line in ("--nodes=2", "--ntasks-per-node=8", "--gres=gpu:a100:8", "--mem=200GB", "--partition=gpu"):
        assert f"#SBATCH {line}\n" in script, line
    assert "--gpus-per-node" not in script and "--array" not in script  # one job: no array
    assert "#SBATCH --array=0-2%3\n" in sbatch_script({"nodes": 1}, "/sweep/.submitit/%j", 3)


def test_dry_run_prints_the_script_sbatch_really_gets(slurm, launch, sweep, tmp_path):
    args = ("+experiment=smoke", "seed=1,2", "+hydra.launcher.additional_parameters.hold=true")
    dry = launch("-m", *SLURM, *args, f"hydra.sweep.dir={sweep.dir}", "hydra.launcher.dry_run=true", timeout=120)
    assert dry.returncode == 0, dry.stderr[-3000:]
    (block,) = _submissions(dry.stdout)
    printed = block.split("  sbatch script:\n", 1)[1]
    printed = "\n".join(line.removeprefix("    ") for line in printed.splitlines())
    proc = sweep(*args)  # held: submitted, never started
    _wait_for("the submission", lambda: list(sweep.dir.glob(".submitit/*/*_submission.sh")), proc, timeout=120)
    (submitted,) = sweep.dir.glob(".submitit/*/*_submission.sh")
    assert printed.strip() == submitted.read_text().strip()
