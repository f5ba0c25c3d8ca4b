"""Curricula: which prompts each GRPO generation batch draws, decided as training goes.

`build_curriculum(s.curriculum, rows, seed)` returns None for `curriculum=none` (TRL's own
shuffled RepeatSampler is used) or a schedule that `CurriculumSampler` asks for each batch.
"""

from r1exp.curriculum.sampler import CurriculumCallback, CurriculumSampler
from r1exp.curriculum.schedules import AdaptiveCurriculum, StagedCurriculum, build_curriculum

__all__ = ["AdaptiveCurriculum", "CurriculumCallback", "CurriculumSampler", "StagedCurriculum", "build_curriculum"]
