"""Checks on the composed config that run before any model loads, each failing with one line."""

from __future__ import annotations

from omegaconf import DictConfig

from r1exp.errors import ConfigError

RESUME_MODES = ("auto", "never")


def check_hardware(cfg: DictConfig) -> None:
    """A CUDA preset needs a visible GPU."""
    if cfg.hardware.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(
                f"hardware={cfg.hardware.name} needs a CUDA GPU and none is visible; use hardware=cpu on this machine"
            )
    elif cfg.hardware.device != "cpu":
        raise ConfigError(f"hardware.device={cfg.hardware.device!r} is unknown; use cpu or cuda")


def check_template(cfg: DictConfig) -> None:
    text = cfg.template.get("text")
    if not isinstance(text, str) or "{question}" not in text:
        raise ConfigError(f"template.text of template={cfg.template.name} must contain {{question}}")


def check_common(cfg: DictConfig) -> None:
    """Checks every command shares."""
    if cfg.get("resume", "auto") not in RESUME_MODES:
        raise ConfigError(f"resume={cfg.resume!r} is unknown; use one of {', '.join(RESUME_MODES)}")
    check_template(cfg)
