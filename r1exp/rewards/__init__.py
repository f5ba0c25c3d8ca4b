"""Task-independent reward terms (format, length, sanity, counters) and the reward machinery.

The table of reward names lives in `r1exp.tasks`; importing this package registers nothing.
"""

from r1exp.rewards.base import Reward, RewardTerm, reward, score_batch, total

__all__ = ["Reward", "RewardTerm", "reward", "score_batch", "total"]
