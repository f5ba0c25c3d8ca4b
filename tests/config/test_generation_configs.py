"""generation=paged and the vLLM options: what reaches GRPOConfig, checked without a model or a GPU."""

from urllib.parse import urlsplit

import pytest

from r1exp.errors import ConfigError
from r1exp.grpo_args import build_grpo_config, vllm_max_model_length
from r1exp.sections import Sections
from tests.conftest import compose


def test_paged_reaches_trl_continuous_batching(tmp_path):
    cfg = compose(["hardware=cpu", "generation=paged"])
    args = build_grpo_config(Sections(cfg), tmp_path, [1.0, 0.1], check_only=True)
    assert args.use_transformers_continuous_batching and not args.use_vllm
    options = args.transformers_continuous_batching_config
    # r1exp sizes the cache per step (r1exp.paged) unless these are set.
    assert options["num_blocks"] is None and options["max_batch_tokens"] is None


def test_a_misspelt_paged_option_is_one_config_error(tmp_path):
    cfg = compose(["hardware=cpu", "generation=paged", "+generation.transformers_continuous_batching_config.blok=1"])
    with pytest.raises(ConfigError, match=r"transformers_continuous_batching_config\.blok "):
        build_grpo_config(Sections(cfg), tmp_path, [1.0, 0.1], check_only=True)


def test_vllm_max_model_length_is_prompt_plus_completion_budget(tmp_path):
    cfg = compose(["hardware=rtx3090", "generation=vllm_colocate", "trainer.max_completion_length=768"])
    s = Sections(cfg)
    assert vllm_max_model_length(s.generation, s.trainer.max_completion_length) == cfg.generation.prompt_budget + 768
    args = build_grpo_config(Sections(cfg), tmp_path, [1.0, 0.1], check_only=True)
    assert args.vllm_max_model_length == cfg.generation.prompt_budget + 768
    assert args.vllm_enable_sleep_mode and 0 < args.vllm_gpu_memory_utilization <= 0.5
    fixed = Sections(compose(["generation=vllm_colocate", "generation.vllm_max_model_length=4096"]))
    assert vllm_max_model_length(fixed.generation, 768) == 4096
    with pytest.raises(ConfigError, match=r"^generation\.prompt_budget=0 must be "):
        Sections(compose(["generation=vllm_colocate", "generation.prompt_budget=0"])).read("generation")


def test_judge_and_vllm_server_do_not_share_a_port():
    cfg = compose(["generation=vllm_server", "reward=zh_general"])
    judge = urlsplit(cfg.judge.openai.base_url)
    server = urlsplit(cfg.generation.vllm_server_base_url)
    assert (judge.hostname, judge.port) != (server.hostname, server.port)


@pytest.mark.parametrize("recipe", ["math_7b_base_lora_3090", "zh_0.5b_instruct_lora_3090"])
def test_3090_recipes_name_their_generation(recipe):
    from tests.conftest import CONF

    text = (CONF / "experiment" / f"{recipe}.yaml").read_text()
    assert "override /generation:" in text
    assert compose([f"+experiment={recipe}"]).generation.name in text


@pytest.mark.parametrize("generation", ["vllm_colocate", "vllm_server"])
def test_vllm_modes_without_the_package_are_one_line(generation):
    import importlib.util

    from r1exp.errors import MissingDependencyError
    from r1exp.grpo_args import require_vllm

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    with pytest.raises(MissingDependencyError, match=rf"generation={generation} needs vLLM.*pip install"):
        require_vllm(Sections(compose([f"generation={generation}"])).generation)
