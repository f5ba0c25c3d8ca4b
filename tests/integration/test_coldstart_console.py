"""Cold start as a user meets it: a quiet console (one bar, no SFT dicts or dataset bars, the curve in
coldstart/metrics.jsonl), and a `coldstart.max_length` no trace fits in refused with one line before
the model loads, instead of TRL's `num_samples=0` traceback."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1exp.coldstart import check_lengths, trace_lengths, trace_rows
from r1exp.common import jsonl
from r1exp.errors import ConfigError
from r1exp.tasks import TASKS
from tests.conftest import compose, error_lines

pytestmark = pytest.mark.slow


@settings(derandomize=True, deadline=None, max_examples=300)
@given(lengths=st.lists(st.integers(1, 5000), min_size=1, max_size=50), max_length=st.integers(1, 5000))
def test_a_max_length_no_trace_fits_in_is_refused_naming_the_shortest(lengths, max_length):
    if min(lengths) > max_length:
        with pytest.raises(ConfigError) as err:
            check_lengths(lengths, max_length)
        msg = str(err.value)
        assert f"coldstart.max_length={max_length} tokens" in msg and f"shortest: {min(lengths)} tokens" in msg
        assert f"set coldstart.max_length={min(lengths)} or more" in msg and "\n" not in msg
    else:
        assert check_lengths(lengths, max_length) == sum(n > max_length for n in lengths)


@pytest.mark.parametrize("template", ["r1zero_base", "qwen_chat"])
def test_trace_lengths_are_the_lengths_trl_trains_on(template, tiny_cache, tmp_path):
    """The refusal counts tokens as TRL's SFT preparation does (plain text + EOS, or the chat template)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from r1exp.models import TinySpec, build_tiny, load_model, load_tokenizer
    from r1exp.tasks import build_splits

    cfg = compose(["+experiment=smoke", "coldstart=solver_traces", f"template={template}"])
    train_rows, _ = build_splits(cfg.data, cfg.template)
    rows = trace_rows(train_rows, cfg.template, 12, 42, 2, TASKS["countdown"])
    path = str(build_tiny(TinySpec(), tiny_cache))
    tokenizer = load_tokenizer(path)
    args = SFTConfig(
        output_dir=str(tmp_path), use_cpu=True, bf16=False, report_to=[], max_length=None, completion_only_loss=True
    )
    trainer = SFTTrainer(
        model=load_model(path, "float32"), args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer
    )
    assert trace_lengths(rows, tokenizer) == [len(ids) for ids in trainer.train_dataset["input_ids"]]


def test_a_max_length_shorter_than_every_trace_is_one_line(launch_here, tmp_path):
    run = tmp_path / "run"
    proc = launch_here(
        "+experiment=smoke", "coldstart=solver_traces", "coldstart.max_length=128", f"hydra.run.dir={run}"
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "num_samples" not in proc.stderr
    (line,) = error_lines(proc.stderr)
    assert line.startswith("r1exp: error: coldstart.max_length=128 tokens is shorter than every solver trace")
    assert "(shortest: " in line and "set coldstart.max_length=" in line
    # refused before the model loaded: no SFT ran
    assert not (run / "coldstart" / "final").exists()


def test_a_cold_start_run_keeps_a_quiet_console(launch_here, tmp_path):
    run = tmp_path / "run"
    proc = launch_here(
        "+experiment=smoke",
        "coldstart=solver_traces",
        "coldstart.max_steps=4",
        "coldstart.rows=32",
        "trainer.max_steps=2",
        f"hydra.run.dir={run}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    console = proc.stdout + proc.stderr
    # TRL's SFT log dicts (printed by transformers' ProgressCallback) and datasets' map bars stay off
    for noise in ("{'loss'", "'train_runtime'", "Tokenizing train dataset", "Adding EOS", "examples/s"):
        assert noise not in console, noise
    # one bar per phase, then the summary
    assert "cold start (SFT)" in proc.stderr and "loss=" in proc.stderr and "train: " in proc.stderr
    assert proc.stdout.strip().splitlines()[0].startswith("r1exp: trained 2 steps in ")
    # the SFT curve is kept in the run dir
    rows = jsonl.read(run / "coldstart" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and all("loss" in r for r in rows)
