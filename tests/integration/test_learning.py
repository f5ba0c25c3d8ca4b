"""Learning, not just running: a reward the tiny model can learn rises with the configured LR and
stays flat with lr = 0 (same seed, same data, same sampling)."""

import pytest

from r1exp.common import jsonl

pytestmark = pytest.mark.slow

STEPS = 30


def _digits_curve(launch_here, tmp_path, lr: float) -> list[float]:
    run = tmp_path / f"lr{lr}"
    proc = launch_here(
        "+experiment=smoke",
        "reward=sanity_digits",
        "reward.terms.soft_format=null",
        f"trainer.learning_rate={lr}",
        f"trainer.max_steps={STEPS}",
        "trainer.beta=0.0",
        "trainer.save_steps=1000",
        "logger.samples_every=0",
        f"hydra.run.dir={run}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [r["rewards/digits"] for r in jsonl.read(run / "metrics.jsonl")]


def test_reward_rises_with_lr_and_not_without(launch_here, tmp_path):
    learned = _digits_curve(launch_here, tmp_path, 1e-2)
    frozen = _digits_curve(launch_here, tmp_path, 0.0)
    assert len(learned) == len(frozen) == STEPS

    def mean(xs):
        return sum(xs) / len(xs)

    rise = mean(learned[-5:]) - mean(learned[:5])
    flat = mean(frozen[-5:]) - mean(frozen[:5])
    print(
        f"digit density: lr=1e-2 {mean(learned[:5]):.3f} -> {mean(learned[-5:]):.3f}; "
        f"lr=0 {mean(frozen[:5]):.3f} -> {mean(frozen[-5:]):.3f}"
    )
    assert rise > 0.3
    assert abs(flat) < 0.05
    assert rise > flat + 0.25
