"""r1exp: Hydra-driven R1-Zero (GRPO) experiments on small Qwen2.5 models."""

__version__ = "0.1.0"
