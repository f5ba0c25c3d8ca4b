"""Curriculum schedules and the sampler: stages, thresholds, adaptive sampling, resume state, layout."""

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from r1exp.curriculum import AdaptiveCurriculum, CurriculumSampler, StagedCurriculum, build_curriculum
from r1exp.errors import ConfigError
from r1exp.schema import CountdownData
from r1exp.tasks.countdown.data import generate
from r1exp.tasks.countdown.reward import check_answer
from tests.conftest import compose


def _option(name: str):
    """conf/curriculum/NAME.yaml as a run composes it (onto its schema)."""
    return compose([f"curriculum={name}"]).curriculum


ROWS = generate(CountdownData(min_numbers=3, max_numbers=4), 200, seed=0)


def _numbers(until_step=10, until_accuracy=None, window=4):
    cfg = _option("numbers")
    cfg.window = window
    cfg.stages[0].until_step = until_step
    cfg.stages[0].until_accuracy = until_accuracy
    cfg.stages[1].until_step = until_step * 2
    return build_curriculum(cfg, ROWS, seed=0)


def test_numbers_stage_one_draws_only_three_number_rows_then_advances_by_step():
    cur = _numbers(until_step=10)
    for step in range(1, 10):
        batch = cur.next_batch(8)
        assert all(len(ROWS[i]["nums"]) == 3 for i in batch)
        cur.observe(batch, [0.0] * 8, step)
    assert cur.stage == 0
    cur.observe([], [], 10)
    assert cur.stage == 1
    mixed = Counter(len(ROWS[i]["nums"]) for _ in range(20) for i in cur.next_batch(8))
    assert set(mixed) == {3, 4}
    cur.observe([], [], 20)
    assert cur.stage == 2 and all(len(ROWS[i]["nums"]) == 4 for i in cur.next_batch(8))
    assert [c["reason"] for c in cur.changes] == ["step", "step"]


def test_stage_advances_when_rolling_accuracy_passes_the_threshold():
    cur = _numbers(until_step=1000, until_accuracy=0.6, window=4)
    for step, acc in enumerate([0.9, 0.9, 0.9, 0.0, 0.2, 0.9], start=1):
        cur.observe([0], [acc], step)
        # steps 1-3: the window is not full yet; step 4: mean 0.675 >= 0.6
        if step < 4:
            assert cur.stage == 0, step
    assert cur.changes[0] == {"step": 4, "stage": 1, "reason": "accuracy"}
    slow = _numbers(until_step=1000, until_accuracy=0.6, window=4)
    for step, acc in enumerate([0.0, 0.2, 0.9, 0.9], start=1):
        slow.observe([0], [acc], step)  # mean 0.5 < 0.6
    assert slow.stage == 0
    slow.observe([0], [0.9], 5)  # window [0.2, 0.9, 0.9, 0.9]: mean 0.725
    assert slow.stage == 1 and slow.changes == [{"step": 5, "stage": 1, "reason": "accuracy"}]


def test_ops_stage_one_allows_only_plus_and_minus():
    cfg = compose(["curriculum=ops"])  # sets data.ops_mix as well
    spec = CountdownData(ops_mix=tuple(cfg.data.ops_mix))
    rows = generate(spec, 200, seed=1)
    assert {r["allowed_ops"] for r in rows} == {"+-", "+-*/"}
    for r in rows:
        assert check_answer(r["solution"], r["nums"], r["target"], r["allowed_ops"])
    cur = build_curriculum(cfg.curriculum, rows, seed=0)
    batches = [cur.next_batch(8) for _ in range(10)]
    assert all(rows[i]["allowed_ops"] == "+-" for b in batches for i in b)
    # correctness follows the row's ops: a product is wrong on a +/- row
    r = next(r for r in rows if r["allowed_ops"] == "+-")
    assert not check_answer(" * ".join(map(str, r["nums"])), r["nums"], r["target"], r["allowed_ops"])


def test_a_stage_matching_no_row_is_a_clear_error():
    cfg = OmegaConf.create({"name": "mine", "kind": "staged", "stages": [{"where": {"difficulty": [6]}}]})
    with pytest.raises(ConfigError, match=r"curriculum.stages\[0\].where"):
        build_curriculum(cfg, ROWS, seed=0)


def test_state_round_trip_continues_identically():
    """What a resume does: restore the state saved in a checkpoint, then carry on."""
    a = _numbers(until_step=5)
    for step in range(1, 8):
        a.observe(a.next_batch(8), [0.5] * 8, step)
    saved = a.state_dict()
    b = _numbers(until_step=5)
    b.load_state_dict(saved)
    assert b.stage == a.stage == 1
    assert [a.next_batch(8) for _ in range(5)] == [b.next_batch(8) for _ in range(5)]


def test_adaptive_concentrates_on_mid_difficulty_prompts():
    """Synthetic: a third of prompts always fail, a third always pass, a third pass half the time."""
    rows = [{"difficulty": i % 3} for i in range(90)]
    true_rate = {0: 0.0, 1: 0.5, 2: 1.0}
    cur = AdaptiveCurriculum(rows, band=(0.2, 0.8), explore=0.25, floor_weight=0.05, seed=0)
    sim = random.Random(1)
    picked = Counter()
    for step in range(1, 81):
        batch = cur.next_batch(8)
        if step > 40:
            picked.update(rows[i]["difficulty"] for i in batch)
        ids = [i for i in batch for _ in range(8)]
        values = [float(sim.random() < true_rate[rows[i]["difficulty"]]) for i in ids]
        cur.observe(ids, values, step)
    share_mid = picked[1] / sum(picked.values())
    print(f"adaptive: share of mid-difficulty prompts after warm-up {share_mid:.2f} (uniform: 0.33)")
    assert share_mid > 0.6
    state = cur.state_dict()
    again = AdaptiveCurriculum(rows, band=(0.2, 0.8), explore=0.25, floor_weight=0.05, seed=0)
    again.load_state_dict(state)
    assert again.next_batch(8) == cur.next_batch(8)


@pytest.mark.parametrize("band, explore", [((0.8, 0.2), 0.1), ((0.1, 0.9), 1.5)])
def test_adaptive_rejects_bad_settings(band, explore):
    with pytest.raises(ConfigError, match="curriculum"):
        AdaptiveCurriculum(ROWS, band=band, explore=explore, floor_weight=0.05, seed=0)


def test_sampler_keeps_groups_together_and_repeats_batches():
    cur = StagedCurriculum(ROWS, [{"where": {}}], window=4, seed=0)
    sampler = CurriculumSampler(cur, num_rows=len(ROWS), mini_repeat_count=4, batch_size=2, repeat_count=3)
    indices = list(sampler)
    assert len(indices) == len(sampler) == (200 // 2) * 2 * 4 * 3
    block = indices[:24]  # one generation batch: 2 prompts x 4 generations, repeated 3 times
    assert block[:8] == block[8:16] == block[16:24]
    assert block[:4] == [block[0]] * 4 and block[4:8] == [block[4]] * 4 and block[0] != block[4]


def test_none_means_trl_default_sampling():
    assert build_curriculum(_option("none"), ROWS, seed=0) is None


def _run_with_prefetch(cur, steps: int, ahead: int) -> list[tuple[dict, list[int], int]]:
    """Drive a curriculum the way TRL + accelerate do: the loader draws `ahead` batches before the
    current one is scored; returns per step (logged metrics, the scored batch, its draw stage)."""
    drawn: list[tuple[list[int], int]] = []
    logged = []
    for step in range(1, steps + 1):
        while len(drawn) < step + ahead:
            drawn.append((cur.next_batch(4), cur.stage))
        batch, stage = drawn[step - 1]
        ids = [i for i in batch for _ in range(2)]  # num_generations=2: each prompt twice
        cur.observe(ids, [0.0] * len(ids), step)
        logged.append((cur.metrics(), batch, stage))
    return logged


def test_stage_is_logged_for_the_batch_the_step_trained_on():
    # Issue: `curriculum/stage` said stage 1 at step 4 while `curriculum/difficulty` (3.0) was still
    # stage 0's: the stage ended during step 4's rewards, the metrics described the next batch.
    cur = _numbers(until_step=4)
    logged = _run_with_prefetch(cur, 8, ahead=1)
    stages = [m["stage"] for m, _, _ in logged]
    assert stages[:5] == [0, 0, 0, 0, 0] and stages[5:] == [1, 1, 1]  # step 5's batch was drawn before the change
    for metrics, batch, stage in logged:
        assert metrics["stage"] == stage
        assert metrics["difficulty"] == sum(len(ROWS[i]["nums"]) for i in batch) / len(batch)
        if metrics["stage"] == 0:
            assert metrics["difficulty"] == 3.0
    assert cur.changes[0] == {"step": 4, "stage": 1, "reason": "step"}


@settings(derandomize=True, deadline=None, max_examples=30)
@given(until=st.integers(1, 6), ahead=st.integers(0, 2), steps=st.integers(1, 14))
def test_logged_stage_and_difficulty_always_describe_the_scored_batch(until, ahead, steps):
    cur = _numbers(until_step=until)
    logged = _run_with_prefetch(cur, steps, ahead)
    for metrics, batch, stage in logged:
        assert metrics["stage"] == stage
        assert metrics["difficulty"] == pytest.approx(sum(len(ROWS[i]["nums"]) for i in batch) / len(batch))
    stages = [m["stage"] for m, _, _ in logged]
    assert stages == sorted(stages)


def test_adaptive_metrics_describe_the_scored_batch():
    rows = [{"difficulty": i % 3} for i in range(30)]
    cur = AdaptiveCurriculum(rows, band=(0.2, 0.8), explore=0.25, floor_weight=0.05, seed=0)
    scored = cur.next_batch(6)
    cur.next_batch(6)  # the loader's next batch, drawn before this step is scored
    cur.observe(scored, [1.0] * 6, 1)
    assert cur.metrics()["difficulty"] == sum(rows[i]["difficulty"] for i in scored) / 6


@pytest.mark.parametrize("option", ["none", "numbers", "ops", "adaptive"])
def test_the_curriculum_section_is_its_kinds_schema_and_checked_with_the_run(option):
    """cmd=train reads the curriculum with every other section, before any model loads: typed by its kind."""
    from r1exp import schema
    from r1exp.sections import Sections

    s = Sections(compose(["hardware=cpu", "model=tiny", "+experiment=smoke", f"curriculum={option}"])).check("train")
    kinds = {"none": schema.CurriculumNone, "adaptive": schema.AdaptiveCurriculum}
    assert isinstance(s.curriculum, kinds.get(option, schema.StagedCurriculum))
    # Over rows drawn from the run's own typed data section (curriculum=ops mixes the ops there).
    built = build_curriculum(s.curriculum, generate(s.data, 200, seed=0), seed=0)
    assert (built is None) == (option == "none")


def test_an_unknown_curriculum_kind_is_one_line_at_the_check():
    from r1exp.sections import Sections

    cfg = compose(["hardware=cpu", "model=tiny", "+experiment=smoke", "curriculum=numbers", "curriculum.kind=bogus"])
    with pytest.raises(ConfigError, match=r"^curriculum.kind='bogus' is unknown; use staged or adaptive$"):
        Sections(cfg).check("train")
