"""How fast is a GRPO step, and does it fit: Qwen2.5 shapes through launch.py, with the plan beside.

    python benchmarks/gpu_step.py --out docs/benchmarks.md                 # on a GPU, about 8 minutes
    python benchmarks/gpu_step.py --dry --out dry.md                       # on CPU, toy shapes

For each case (0.5B full fine-tune, 1.5B LoRA r64 on the Countdown recipe, 7B LoRA r16 on the math
recipe) and each rollout backend (hf, paged, vllm_colocate when vllm is importable), the script builds
a random-init model with the exact Qwen2.5 shape (config only, bf16, real vocabulary; the tokenizer is
the tiny model's), runs a few GRPO steps through `launch.py` under hardware=rtx3090, and reads the
step's time split, generated tokens/s and peak memory from the run's metrics.jsonl. A sitecustomize
hook records the allocator's peak at exit, nvidia-smi samples whole-process memory in the background,
and cmd=plan's estimate for the same config stands beside the measured peak. Results are written
after every case, so a time-out still leaves the numbers of the cases before it. Random weights never
emit EOS: every completion runs to the token budget, the worst case.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from r1exp import plan as P  # noqa: E402

GIB = 2**30
# The output file's sections this script owns: gpu_step (the default matrix), gpu_step_dry (--dry);
# --section names another (e.g. a second call at 1024 tokens), placed after the main one.
SECTION, DRY_SECTION = "gpu_step", "gpu_step_dry"


def markers(section: str) -> tuple[str, str]:
    return f"<!-- {section}:begin -->", f"<!-- {section}:end -->"


BEGIN, END = markers(SECTION)
# Where the Qwen2.5-shaped models are initialised (fast on the GPU: the 7B takes ~20 s there).
BUILD_DEVICE = "cuda"
EOS_NOTE = "random weights: every completion runs to the budget"
EOS_NOTE_DRY = "toy models may stop early"
# The true budget of the emulated card (hardware=rtx3090): what "fits" is judged against.
CARD_GIB = 24.0

# Written into a directory put first on the run's PYTHONPATH: the allocator's peaks at exit (a
# SIGINT from `timeout` ends the run with KeyboardInterrupt, which still runs atexit hooks).
SITECUSTOMIZE = """
import atexit, json, os
def _r1exp_gpu_step_peak():
    try:
        import torch
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            with open(os.environ["R1EXP_GPU_STEP_PEAK"], "w") as fh:
                json.dump({"allocated": torch.cuda.max_memory_allocated() / 2**30,
                           "reserved": torch.cuda.max_memory_reserved() / 2**30}, fh)
    except Exception:
        pass
if os.environ.get("R1EXP_GPU_STEP_PEAK"):
    atexit.register(_r1exp_gpu_step_peak)
"""


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    repo: str
    lora: str
    overrides: tuple[str, ...]


# In order of what the goals need most, so a time-out cuts the least wanted case.
CASES = (
    Case(
        "1.5b-r64",
        "Qwen2.5-1.5B",
        "Qwen/Qwen2.5-1.5B",
        "r64",
        ("+experiment=countdown_r1zero_1.5b", "lora=r64"),
    ),
    Case("7b-r16", "Qwen2.5-7B", "Qwen/Qwen2.5-7B", "r16", ("+experiment=math_7b_base_lora_3090",)),
    Case("0.5b-full", "Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B", "none", ("model=qwen0.5b", "lora=none")),
)
# Toy shapes for --dry (CPU): same structure, tiny dims; the vocabulary is the tokenizer's.
TOY = {
    "0.5b-full": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "tie": True},
    "1.5b-r64": {"hidden_size": 48, "intermediate_size": 96, "num_hidden_layers": 2, "tie": True},
    "7b-r16": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "tie": False},
}


def versions() -> str:
    import torch
    import transformers
    import trl

    try:
        import peft

        peft_v = peft.__version__
    except ImportError:
        peft_v = "-"
    return (
        f"python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, "
        f"trl {trl.__version__}, peft {peft_v}"
    )


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return f"{props.name} ({props.total_memory / GIB:.0f} GiB)"
    return f"CPU ({os.cpu_count()} cores)"


def backends(dry: bool) -> list[str]:
    """paged (the fast path) first, then hf; vllm_colocate where vllm is importable."""
    have = {p.stem for p in (ROOT / "conf" / "generation").glob("*.yaml")}
    names = [b for b in ("paged", "hf") if b in have]
    if not dry and find_spec("vllm") is not None and "vllm_colocate" in have:
        names.append("vllm_colocate")
    return names


def build_model(case: Case, tokenizer_dir: Path, target: Path, dry: bool) -> Path:
    """A random-init Qwen2 model with the case's shape (toy dims with --dry), saved with the tiny tokenizer."""
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoTokenizer, GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    if dry:
        toy = TOY[case.key]
        dims = {
            "hidden_size": toy["hidden_size"],
            "intermediate_size": toy["intermediate_size"],
            "num_hidden_layers": toy["num_hidden_layers"],
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": len(tok),
            "tie_word_embeddings": toy["tie"],
        }
        dtype, device = torch.float32, "cpu"
    else:
        shape = P.QWEN25[case.repo]
        dims = {
            "hidden_size": shape.hidden_size,
            "intermediate_size": shape.intermediate_size,
            "num_hidden_layers": shape.num_hidden_layers,
            "num_attention_heads": shape.num_attention_heads,
            "num_key_value_heads": shape.num_key_value_heads,
            "vocab_size": shape.vocab_size,
            "tie_word_embeddings": shape.tie_word_embeddings,
        }
        dtype, device = torch.bfloat16, BUILD_DEVICE
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    config = Qwen2Config(**dims, bos_token_id=None, eos_token_id=eos, pad_token_id=tok.pad_token_id, dtype=dtype)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Qwen2ForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.generation_config = GenerationConfig(eos_token_id=[eos], pad_token_id=tok.pad_token_id)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    os.rename(tmp, target)
    return target


class SmiSampler:
    """Whole-GPU memory.used (MiB) every 250 ms while a case runs; the peak above the baseline."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.samples: list[float] = []
        self.baseline = 0.0
        self._thread: threading.Thread | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("nvidia-smi") is not None

    def _query(self) -> float | None:
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout
            return float(out.strip().splitlines()[0])
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            return None

    def start(self) -> None:
        if not self.available():
            return
        self.baseline = self._query() or 0.0
        self.samples = []
        self.proc = subprocess.Popen(
            ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", "0", "-lms", "250"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

        def read() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                with contextlib.suppress(ValueError):
                    self.samples.append(float(line.strip()))

        self._thread = threading.Thread(target=read, daemon=True)
        self._thread.start()

    def stop(self) -> float | None:
        """Peak whole-process GiB of the case (above what the GPU held before it), or None."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.proc = None
        if not self.samples:
            return None
        return (max(self.samples) - self.baseline) / 1024


def metric_rows(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "metrics.jsonl"
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line of a killed run
            if isinstance(row, dict) and "step" in row:
                rows.append(row)
    return rows


# Per-step keys of r1exp.tracking.timing (time split, tokens/s, the step's allocator peaks); a key
# renamed later is still found by its pattern.
SPLIT_PARTS = {
    "gen": ("time/generation", re.compile(r"(time|timing).*(generat|rollout)", re.I)),
    "reward": ("time/reward", re.compile(r"(time|timing).*reward", re.I)),
    "logp": ("time/logprobs", re.compile(r"(time|timing).*(ref|old|logp|log_prob)", re.I)),
    "opt": ("time/train", re.compile(r"(time|timing).*(optim|train|backward|update)", re.I)),
}
TOKENS_PER_S = ("perf/generated_tokens_per_s", re.compile(r"tokens?(_|/)?(per_s|per_second|/s)", re.I))
PEAK_ALLOC = ("perf/peak_allocated_gib", re.compile(r"peak.*alloc|alloc.*peak", re.I))
PEAK_RESERVED = ("perf/peak_reserved_gib", re.compile(r"peak.*reserv|reserv.*peak", re.I))


def _find(row: dict[str, Any], key: tuple[str, re.Pattern]) -> float | None:
    exact, pattern = key
    if isinstance(row.get(exact), (int, float)):
        return float(row[exact])
    for name, value in row.items():
        if name not in ("step_time", "time/step") and pattern.search(name) and isinstance(value, (int, float)):
            return float(value)
    return None


def summarize_steps(rows: list[dict[str, Any]], gen_batch: int) -> dict[str, Any]:
    """s/step (steps after the first when there are any), its split, tokens/s and in-run peaks."""
    if not rows:
        return {}
    steady = rows[1:] or rows

    def mean(values: list[float | None]) -> float | None:
        vals = [v for v in values if v is not None]
        return sum(vals) / len(vals) if vals else None

    out: dict[str, Any] = {
        "steps": len(rows),
        "step1_s": rows[0].get("step_time"),
        "s_per_step": mean([r.get("step_time") for r in steady]),
        "split": {k: mean([_find(r, key) for r in steady]) for k, key in SPLIT_PARTS.items()},
        "completion_mean": mean([r.get("completion_length/mean") for r in rows]),
    }
    tps = mean([_find(r, TOKENS_PER_S) for r in steady])
    gen_s = out["split"]["gen"]
    if tps is None and out["completion_mean"] and (gen_s or out["s_per_step"]):
        # Fallback: generated tokens over the generation time (or the whole step when it is not logged).
        tps = gen_batch * out["completion_mean"] / (gen_s or out["s_per_step"])
        out["tokens_per_s_source"] = "generation time" if gen_s else "step time"
    out["tokens_per_s"] = tps
    out["peak_alloc_metric"] = max((v for r in rows if (v := _find(r, PEAK_ALLOC)) is not None), default=None)
    out["peak_reserved_metric"] = max((v for r in rows if (v := _find(r, PEAK_RESERVED)) is not None), default=None)
    # TRL's num_tokens counts prompt + completion tokens; step 1's gives the mean prompt length.
    if rows[0].get("num_tokens") and out["completion_mean"] is not None:
        out["prompt_mean"] = rows[0]["num_tokens"] / gen_batch - out["completion_mean"]
    return out


def compose_plan(overrides: list[str], prompt_tokens: int) -> P.Plan | None:
    """cmd=plan's estimate for the same overrides (composed in process: no model is loaded)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from r1exp.sections import Sections

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[o for o in overrides if not o.startswith("hydra.")])
    return P.estimate(Sections(cfg), prompt_tokens=prompt_tokens, card_override=CARD_GIB)


def case_overrides(case: Case, backend: str, args: argparse.Namespace, model_dir: Path, run_dir: Path) -> list[str]:
    over = [*case.overrides, f"model.path={model_dir}", "model.builder=null", "model.dtype=auto"]
    # No evaluation while training (and so no evaluation set to load): steps only.
    over += [f"generation={backend}", "logger=jsonl", "periodic_eval.every=0", "bench=none", f"seed={args.seed}"]
    over += [f"trainer.max_steps={args.steps}", "trainer.save_steps=100000", "resume=never"]
    over += [f"trainer.max_completion_length={args.completion}", f"hydra.run.dir={run_dir}"]
    if args.dry:
        over += [
            "hardware=cpu",
            "trainer.num_generations=4",
            "hardware.per_device_train_batch_size=4",
            "hardware.gradient_accumulation_steps=2",
        ]
    else:
        over += ["hardware=rtx3090"]
    return over


# MATH training files (the hub's MATH-lighteval train split as JSONL) the math case looks for. Not
# MATH-500: r1exp refuses to train on the evaluation data.
MATH_TRAIN_FILES = ("math_train.jsonl", "math.train.jsonl")


def data_overrides(case: Case, data_dir: Path | None) -> tuple[list[str], str]:
    """The math recipe trains on a local MATH training file; without one, Countdown with the same lengths."""
    if case.key != "7b-r16":
        return [], ""
    for name in MATH_TRAIN_FILES:
        if data_dir is not None and (data_dir / name).is_file():
            return [f"data.path={data_dir / name}", "data.hub=null"], f"data: {name}"
    return ["data=countdown", "reward=countdown"], "data=countdown (no MATH training file in --data-dir)"


def last_error(log_text: str) -> str:
    """The run's one-line error, or the last line of its traceback, for the note column."""
    lines = [ln.strip() for ln in log_text.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("r1exp: error:") or re.match(r"^[A-Za-z_.]*(Error|Exception)\b", ln):
            return ln.replace("|", "/")[:160]
    return lines[-1].replace("|", "/")[:160] if lines else "no output"


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render(results: list[dict[str, Any]], header: dict[str, Any]) -> str:
    """The markdown table and its header lines."""
    lines = [
        f"Device: {header['device']}. Versions: {header['versions']}.",
        f"Settings: {header['settings']}.",
        "",
        "| model | LoRA | backend | s/step | step 1 s | split gen / reward / logp / opt (s) | gen tok/s "
        "| peak alloc GiB | peak reserved GiB | whole process GiB | plan GiB (alloc / process) | plan vs alloc "
        "| fits | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = r.get("steps") or {}
        split = s.get("split") or {}
        split_text = " / ".join(fmt(split.get(k)) for k in ("gen", "reward", "logp", "opt"))
        plan = r.get("plan") or {}
        alloc = r.get("peak_alloc")
        plan_alloc = plan.get("allocator_peak_gib")
        err = f"{(plan_alloc - alloc) / alloc * 100:+.0f} %" if plan_alloc and alloc else "-"
        lines.append(
            f"| {r['model']} | {r['lora']} | {r['backend']} | {fmt(s.get('s_per_step'))} | {fmt(s.get('step1_s'))} "
            f"| {split_text} | {fmt(s.get('tokens_per_s'), 0)} | {fmt(alloc, 2)} | {fmt(r.get('peak_reserved'), 2)} "
            f"| {fmt(r.get('whole_process'), 2)} | {fmt(plan_alloc, 2)} / {fmt(plan.get('peak_gib'), 2)} | {err} "
            f"| {fmt(r.get('fits'))} | {r.get('note', '')} |"
        )
    return "\n".join(lines)


def write_section(out: Path, body: str, section: str) -> None:
    """Replace one section of `out` (between its markers), keeping everything else; a new section goes
    right after the main one, or at the end."""
    begin, end = markers(section)
    block = f"{begin}\n{body}\n{end}"
    text = out.read_text() if out.exists() else ""
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    elif END in text:
        at = text.index(END) + len(END)
        text = text[:at] + "\n\n" + block + text[at:]
    else:
        text = (text.rstrip() + "\n\n" if text.strip() else "") + block + "\n"
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, out)


def run_case(
    case: Case, backend: str, args: argparse.Namespace, model_dir: Path, work: Path, timeout_s: float
) -> dict[str, Any]:
    run_dir = work / "runs" / f"{case.key}-{backend}"
    shutil.rmtree(run_dir, ignore_errors=True)
    over = case_overrides(case, backend, args, model_dir, run_dir)
    extra, data_note = data_overrides(case, args.data_dir)
    gen_batch = 8 if args.dry else 64
    over += extra
    peak_file = work / f"peak-{case.key}-{backend}.json"
    peak_file.unlink(missing_ok=True)
    site = work / "site"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "R1EXP_GPU_STEP_PEAK": str(peak_file),
        "R1EXP_CACHE": str(work / "cache"),
        "WANDB_MODE": "offline",
        "PYTHONUNBUFFERED": "1",
    }
    smi = SmiSampler()
    smi.start()
    started = time.monotonic()
    cmd = ["timeout", "-s", "INT", "-k", "20", str(int(timeout_s)), sys.executable, str(ROOT / "launch.py"), *over]
    with open(work / f"log-{case.key}-{backend}.txt", "w") as log:
        rc = subprocess.run(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.monotonic() - started
    whole = smi.stop()
    log_text = (work / f"log-{case.key}-{backend}.txt").read_text(errors="replace")
    oom = "OutOfMemoryError" in log_text or "CUDA out of memory" in log_text
    steps = summarize_steps(metric_rows(run_dir), gen_batch)
    peak = json.loads(peak_file.read_text()) if peak_file.is_file() else {}
    # r1exp resets the allocator's peak every step: the run's peak is the largest of the per-step
    # peaks and what the exit hook saw since the last reset (a step cut off by the time-out).
    alloc = max((v for v in (peak.get("allocated"), steps.get("peak_alloc_metric")) if v), default=None)
    reserved = max((v for v in (peak.get("reserved"), steps.get("peak_reserved_metric")) if v), default=None)
    prompt = math.ceil(steps["prompt_mean"]) if steps.get("prompt_mean") else 256
    try:
        plan = compose_plan(over, prompt).to_dict()
    except Exception as exc:  # the table still gets the measurement
        plan = {"error": f"{type(exc).__name__}: {exc}"}
    notes = [n for n in (data_note,) if n]
    if rc in (124, 130, 137):
        notes.append(f"timed out after {steps.get('steps', 0)} step(s)")
    elif rc != 0:
        notes.append(f"exit {rc}: {last_error(log_text)}")
    if oom:
        notes.append("CUDA OOM")
    if args.dry:
        fits = None
    else:
        # Fits the true card: no OOM, and the whole process stayed within it (allocator + context otherwise).
        used = whole if whole is not None else ((reserved or 0) + P.CUDA_CONTEXT_GIB)
        fits = (not oom) and bool(steps) and used <= CARD_GIB
    if whole is not None and reserved:
        notes.append(f"non-allocator {whole - reserved:.2f} GiB")
    return {
        "model": case.label if not args.dry else f"{case.label} (toy)",
        "lora": case.lora,
        "backend": backend,
        "rc": rc,
        "wall_s": round(wall, 1),
        "steps": steps,
        "peak_alloc": alloc,
        "peak_reserved": reserved,
        "whole_process": whole,
        "plan": plan,
        "fits": fits,
        "note": "; ".join(notes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dry", action="store_true", help="CPU, toy shapes, hardware=cpu (a smoke test of this script)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md", help="markdown file to update")
    parser.add_argument("--work", type=Path, default=None, help="models, runs and logs (default: a temp dir)")
    parser.add_argument("--data-dir", type=Path, default=None, help=f"holds a MATH training file {MATH_TRAIN_FILES}")
    parser.add_argument("--steps", type=int, default=None, help="GRPO steps per case (default 2; dry 2)")
    parser.add_argument("--completion", type=int, default=None, help="completion tokens (default 256; dry 16)")
    parser.add_argument("--cases", default=",".join(c.key for c in CASES), help="comma-separated case keys")
    parser.add_argument("--backends", default=None, help="comma-separated (default: hf, paged, vllm if importable)")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for the whole matrix")
    parser.add_argument("--case-timeout", type=float, default=150.0, help="seconds per case at most")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--section", default=None, help="section of --out (default gpu_step; dry: gpu_step_dry)")
    args = parser.parse_args(argv)
    args.section = args.section or (DRY_SECTION if args.dry else SECTION)
    if not re.fullmatch(r"[a-z0-9_]+", args.section):
        parser.error(f"--section={args.section!r}: use lowercase letters, digits and _")
    args.steps = args.steps or 2
    args.completion = args.completion or (16 if args.dry else 256)
    # Absolute: the runs start in the work dir.
    args.data_dir = Path(args.data_dir).resolve() if args.data_dir else None
    deadline = time.monotonic() + args.budget

    # Absolute: the runs start in it, and their paths are passed as overrides.
    work = (args.work or Path(tempfile.mkdtemp(prefix="r1exp-gpu-step-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    (work / "site").mkdir(exist_ok=True)
    (work / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (work / "models").mkdir(exist_ok=True)

    from r1exp.models import TinySpec, build_tiny

    tokenizer_dir = build_tiny(TinySpec(), work / "cache")
    wanted = [c for c in CASES if c.key in args.cases.split(",")]
    names = args.backends.split(",") if args.backends else backends(args.dry)
    header = {
        "device": device_name(),
        "versions": versions(),
        "settings": (
            f"{args.steps} GRPO steps per case, {'8' if args.dry else '64'} completions x {args.completion} tokens "
            f"per step ({EOS_NOTE_DRY if args.dry else EOS_NOTE}), "
            f"{'hardware=cpu, toy shapes' if args.dry else 'hardware=rtx3090 (allocator cap 23.5 GiB)'}; "
            f"fits = no OOM and whole-process memory <= {CARD_GIB:g} GiB; plan = cmd=plan with the run's prompt length"
        ),
    }
    results: list[dict[str, Any]] = []
    for case in wanted:
        for backend in names:
            left = deadline - time.monotonic()
            if left < 40:
                results.append(
                    {"model": case.label, "lora": case.lora, "backend": backend, "note": "skipped: budget spent"}
                )
                continue
            model_dir = build_model(case, tokenizer_dir, work / "models" / case.key, args.dry)
            timeout_s = min(args.case_timeout, deadline - time.monotonic() - 5)
            result = run_case(case, backend, args, model_dir, work, timeout_s)
            results.append(result)
            print(json.dumps(result), flush=True)
            (work / "results.json").write_text(json.dumps({"header": header, "results": results}, indent=1))
            write_section(args.out, render(results, header), args.section)
        # Free the disk before the next, bigger model.
        shutil.rmtree(work / "models" / case.key, ignore_errors=True)
    write_section(args.out, render(results, header), args.section)
    print(render(results, header))
    return 0


if __name__ == "__main__":
    sys.exit(main())
