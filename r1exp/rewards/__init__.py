"""Reward functions in TRL's shape, a registry of them, and the composition of weighted terms.

Importing this package registers every built-in reward.
"""

from r1exp.rewards import countdown, format, judge, length, math, sanity  # noqa: F401  (registration side effect)
from r1exp.rewards.registry import REWARDS, RewardTerm, build_terms, register, score_batch, total

__all__ = ["REWARDS", "RewardTerm", "build_terms", "register", "score_batch", "total"]
