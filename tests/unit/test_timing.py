"""StepTimer: the per-step split (generation, reward, logprobs, other, train) adds up to the step."""

import pytest

from r1exp.tracking import timing
from r1exp.tracking.timing import StepTimer, format_split


class Clock:
    """A perf_counter that moves only when told to."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(timing.time, "perf_counter", c)
    return c


def _step(timer: StepTimer, clock: Clock, gen: float, reward: float, logprobs: float, other: float, train: float):
    timer.on_step_begin(None, None, None)
    with timer.section("prepare"):
        with timer.section("generation"):
            clock.now += gen
        timer.add_tokens(500)
        with timer.section("reward"):
            clock.now += reward
        with timer.section("logprobs"):
            clock.now += logprobs
        clock.now += other
    clock.now += train
    timer.on_step_end(None, None, None)


def test_split_adds_up_to_the_step(clock):
    timer = StepTimer()
    _step(timer, clock, gen=2.0, reward=0.5, logprobs=0.25, other=0.125, train=1.0)
    seconds = timer.drain()
    assert seconds == {"step": 3.875, "generation": 2.0, "reward": 0.5, "logprobs": 0.25, "other": 0.125, "train": 1.0}
    assert sum(v for k, v in seconds.items() if k != "step") == pytest.approx(seconds["step"])
    assert timer.gauges.drain() == {"generated_tokens_per_s": 250.0}
    # Drained once: the next log without a new step adds nothing.
    assert timer.drain() == {} and timer.gauges.drain() == {}


def test_summary_is_the_mean_over_steps(clock):
    timer = StepTimer()
    _step(timer, clock, gen=2.0, reward=0.0, logprobs=0.0, other=0.0, train=1.0)
    _step(timer, clock, gen=4.0, reward=1.0, logprobs=0.0, other=0.0, train=1.0)
    summary = timer.summary()
    assert summary["steps_timed"] == 2 and summary["mean_step_s"] == 4.5
    assert summary["mean_split_s"] == {"generation": 3.0, "reward": 0.5, "logprobs": 0.0, "other": 0.0, "train": 1.0}
    assert format_split(summary).startswith("4.50 s/step (generation 3.00, reward 0.50")


def test_sections_outside_a_step_are_not_counted(clock):
    timer = StepTimer()
    with timer.section("generation"):  # e.g. an evaluation before training
        clock.now += 9.0
    _step(timer, clock, gen=1.0, reward=0.0, logprobs=0.0, other=0.0, train=1.0)
    assert timer.drain()["generation"] == 1.0
    assert StepTimer().summary() == {"steps_timed": 0}
