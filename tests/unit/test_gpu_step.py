"""benchmarks/gpu_step.py's pieces that only a GPU run would otherwise exercise: metrics, nvidia-smi, the file."""

from __future__ import annotations

import importlib.util
import os
import stat
import sys

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def gpu_step():
    spec = importlib.util.spec_from_file_location("gpu_step", ROOT / "benchmarks" / "gpu_step.py")
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up by name
    sys.modules["gpu_step"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("gpu_step", None)


def test_step_summary_reads_the_timing_keys(gpu_step):
    rows = [
        {"step": 1, "step_time": 30.0, "time/generation": 25.0, "num_tokens": 64 * (100 + 256)},
        {
            "step": 2,
            "step_time": 12.0,
            "time/generation": 8.0,
            "time/reward": 0.5,
            "time/logprobs": 1.0,
            "time/train": 2.5,
            "perf/generated_tokens_per_s": 2048.0,
            "perf/peak_allocated_gib": 5.5,
            "perf/peak_reserved_gib": 6.0,
            "completion_length/mean": 256,
        },
        {"step": 3, "step_time": 14.0, "time/generation": 10.0, "perf/peak_allocated_gib": 5.0},
    ]
    rows[0]["completion_length/mean"] = 256
    out = gpu_step.summarize_steps(rows, 64)
    assert out["step1_s"] == 30.0 and out["s_per_step"] == 13.0  # steps after the first
    assert out["split"] == {"gen": 9.0, "reward": 0.5, "logp": 1.0, "opt": 2.5}
    assert out["tokens_per_s"] == 2048.0
    assert out["peak_alloc_metric"] == 5.5 and out["peak_reserved_metric"] == 6.0
    assert out["prompt_mean"] == 100


def test_tokens_per_second_falls_back_to_the_generation_time(gpu_step):
    rows = [
        {"step": 1, "step_time": 9.0, "completion_length/mean": 100},
        {"step": 2, "step_time": 10.0, "timing/generate_s": 4.0, "completion_length/mean": 100},
    ]
    out = gpu_step.summarize_steps(rows, 8)
    assert out["split"]["gen"] == 4.0  # found by pattern under another name
    assert out["tokens_per_s"] == 8 * 100 / 4.0 and out["tokens_per_s_source"] == "generation time"


def test_smi_sampler_reports_the_peak_above_the_baseline(gpu_step, tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    # One reading when queried once; a stream (1000, 3048, 2048 MiB, then idle) with -lms.
    fake.write_text(
        '#!/bin/sh\ncase "$*" in *-lms*) printf "1000\\n3048\\n2048\\n"; exec sleep 30;; esac\necho "1000"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    sampler = gpu_step.SmiSampler()
    assert sampler.available()
    sampler.start()
    for _ in range(200):
        if len(sampler.samples) >= 3:
            break
        sampler._thread.join(timeout=0.05)
    assert sampler.stop() == (3048 - 1000) / 1024


def test_section_rewrite_keeps_the_rest_of_the_file(gpu_step, tmp_path):
    out = tmp_path / "b.md"
    out.write_text("# B\n\n## CPU\n\nother section\n")
    gpu_step.write_section(out, "first", "gpu_step")
    gpu_step.write_section(out, "dry sample", "gpu_step_dry")
    gpu_step.write_section(out, "second", "gpu_step")
    gpu_step.write_section(out, "at 1024", "gpu_step_1024")
    text = out.read_text()
    assert text.startswith("# B\n\n## CPU\n\nother section\n")
    assert "first" not in text and text.count("second") == 1 and "dry sample" in text
    assert text.index(gpu_step.BEGIN) < text.index("second") < text.index(gpu_step.END)
    # another section lands right after the main one, before the dry sample
    assert text.index(gpu_step.END) < text.index("at 1024") < text.index("dry sample")


def test_math_case_falls_back_to_countdown_without_a_math_training_file(gpu_step, tmp_path):
    case = next(c for c in gpu_step.CASES if c.key == "7b-r16")
    (tmp_path / "math500.test.jsonl").write_text("{}\n")  # evaluation data: never trained on
    assert gpu_step.data_overrides(case, tmp_path) == (
        ["data=countdown", "reward=countdown"],
        "data=countdown (no MATH training file in --data-dir)",
    )
    (tmp_path / "math_train.jsonl").write_text("{}\n")
    over, note = gpu_step.data_overrides(case, tmp_path)
    assert over == [f"data.path={tmp_path / 'math_train.jsonl'}", "data.hub=null"] and note == "data: math_train.jsonl"


def test_failed_run_note_is_its_error_line(gpu_step):
    log = "Loading...\nTraceback (most recent call last):\n  File x\ntorch.OutOfMemoryError: CUDA out of memory. | x\n"
    assert gpu_step.last_error(log) == "torch.OutOfMemoryError: CUDA out of memory. / x"
    assert gpu_step.last_error("a\nr1exp: error: model.path=x: nope\nbye\n") == "r1exp: error: model.path=x: nope"


def test_qwen_shaped_model_build(gpu_step, tmp_path, tiny_cache, monkeypatch):
    """The GPU build path (bf16, the table's shape, the tiny tokenizer), on CPU with a small stand-in shape."""
    import json

    from r1exp import plan as P
    from r1exp import schema
    from r1exp.models import TinySpec, build_tiny

    case = next(c for c in gpu_step.CASES if c.key == "1.5b-r64")
    small = P.ModelShape(64, 128, 2, 4, 2, 151936, True)
    monkeypatch.setitem(P.QWEN25, case.repo, small)
    monkeypatch.setattr(gpu_step, "BUILD_DEVICE", "cpu")
    (tmp_path / "models").mkdir()
    model_dir = gpu_step.build_model(case, build_tiny(TinySpec(), tiny_cache), tmp_path / "models" / "m", dry=False)
    config = json.loads((model_dir / "config.json").read_text())
    assert config["dtype"] == "bfloat16" and config["vocab_size"] == 151936 and config["tie_word_embeddings"]
    assert (model_dir / "tokenizer.json").is_file()
    shape, source = P.model_shape(schema.Model(name="m", path=str(model_dir)))
    assert shape == small and source.endswith("config.json")  # cmd=plan reads the built model's shape
