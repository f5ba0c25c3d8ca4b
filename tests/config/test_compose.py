"""Every option of every group composes, and the GRPOConfig of every trainer x hardware x generation
combination validates, without loading a model."""

import itertools

import pytest
from omegaconf import OmegaConf

from r1exp.grpo_args import build_grpo_config
from r1exp.models import lora_config
from r1exp.schema import CountdownData
from r1exp.sections import Sections
from r1exp.tasks import build_terms
from tests.conftest import compose, groups

GROUPS = groups()
OPTIONS = [(g, o) for g, opts in GROUPS.items() for o in opts]


def test_the_conf_tree_has_the_designed_groups():
    expected = {
        "cmd": {"train", "score"},
        "model": {
            "qwen0.5b",
            "qwen0.5b-instruct",
            "qwen1.5b",
            "qwen1.5b-instruct",
            "qwen7b",
            "qwen7b-instruct",
            "tiny",
        },
        "data": {
            "countdown",
            "countdown_tasks",
            "math",
            "gsm8k_train",
            "zh_general",
            "zh_cqia_exam",
            "math500",
            "gsm8k",
            "cmath",
            "gaokao_mc",
            "cn_middle_school",
        },
        "bench": {"none", "math500", "gsm8k", "cmath", "gaokao_mc", "cn_middle_school", "countdown", "countdown_tasks"},
        "template": {"r1zero_base", "qwen_chat", "answer_only"},
        "reward": {"countdown", "math", "zh_general"},
        "curriculum": {"none", "numbers", "ops", "adaptive"},
        "coldstart": {"none", "solver_traces"},
        "lora": {"none", "r8", "r16", "r64"},
        "trainer": {"grpo"},
        "generation": {"hf", "paged", "vllm_colocate", "vllm_server"},
        "hardware": {"cpu", "rtx3090", "a100_80g", "multi_gpu"},
        "logger": {"none", "jsonl", "wandb"},
        "experiment": {"smoke", "countdown_r1zero_1.5b"},
    }
    for group, options in expected.items():
        assert options <= set(GROUPS[group]), group


@pytest.mark.parametrize("group, option", OPTIONS)
def test_every_option_composes_and_resolves(group, option):
    # experiment and sweep are optional overlays, appended with "+"
    prefix = "+" if group in ("experiment", "sweep") else ""
    overrides = [f"{prefix}{group}={option}"]
    if group == "cmd" and option == "score":
        overrides += ["cmd.input=in.jsonl", "cmd.output=out.jsonl"]
    if group == "cmd" and option == "compare":
        overrides += ["cmd.runs=[a,b]"]
    cfg = compose(overrides)
    container = OmegaConf.to_container(cfg, resolve=True)  # every interpolation resolves
    assert container[group if not prefix else "model"] is not None
    Sections(cfg).check("score")
    terms = build_terms(cfg.reward.terms)
    assert terms and all(t.weight != 0 for t in terms)
    if cfg.data.source == "countdown":
        # Typed by the schema its file names, and checked by it (CountdownData.check).
        assert isinstance(Sections(cfg).data, CountdownData)
    lora_config(Sections(cfg).lora)


def test_defaults_reproduce_the_countdown_note():
    cfg = compose([])
    assert cfg.model.path == "Qwen/Qwen2.5-1.5B" and cfg.model.instruct is False
    assert cfg.template.name == "r1zero_base" and cfg.template.text.endswith("Let me solve this step by step.\n<think>")
    assert {k: (v.fn, v.weight) for k, v in cfg.reward.terms.items()} == {
        "correct": ("countdown_correct", 1.0),
        "format": ("strict_format", 0.1),
    }
    assert cfg.trainer.max_completion_length == 1024
    assert 250 <= cfg.trainer.max_steps <= 350
    assert cfg.lora.name == "none"
    experiment = compose(["+experiment=countdown_r1zero_1.5b"])
    assert experiment.model.path == cfg.model.path and experiment.trainer.max_steps == cfg.trainer.max_steps


def test_trainer_sets_every_value_whose_trl_default_moved():
    trainer = compose([]).trainer
    for key in (
        "beta",
        "loss_type",
        "bf16",
        "gradient_checkpointing",
        "learning_rate",
        "num_generations",
        "max_completion_length",
        "logging_steps",
        "scale_rewards",
        "warmup_steps",
        "temperature",
    ):
        assert key in trainer, key
    assert trainer.loss_type == "grpo" and trainer.beta > 0


@pytest.mark.parametrize(
    "trainer, hardware, generation",
    list(itertools.product(GROUPS["trainer"], GROUPS["hardware"], GROUPS["generation"])),
)
def test_grpo_config_validates_for_every_combination(trainer, hardware, generation, tmp_path):
    cfg = compose([f"trainer={trainer}", f"hardware={hardware}", f"generation={generation}"])
    terms = build_terms(cfg.reward.terms)
    args = build_grpo_config(Sections(cfg), tmp_path, [t.weight for t in terms], check_only=True)
    assert args.reward_weights == [t.weight for t in terms]
    assert args.beta == cfg.trainer.beta and args.loss_type == cfg.trainer.loss_type
    assert args.max_completion_length == cfg.trainer.max_completion_length
    assert args.use_vllm is cfg.generation.use_vllm
    if cfg.generation.use_vllm:
        assert args.vllm_mode == cfg.generation.vllm_mode
    assert args.generation_batch_size % args.num_generations == 0
    # every preset trains on the same number of completions per step
    processes = cfg.hardware.nodes * cfg.hardware.processes_per_node
    assert cfg.hardware.per_device_train_batch_size * cfg.hardware.gradient_accumulation_steps * processes == 64
    if hardware == "cpu":
        assert args.use_cpu and not args.bf16 and not args.gradient_checkpointing


def test_cpu_preset_builds_the_real_config_unchanged(tmp_path):
    cfg = compose(["hardware=cpu", "logger=wandb"])
    args = build_grpo_config(Sections(cfg), tmp_path, [1.0, 0.1])
    assert args.use_cpu and args.bf16 is False and args.report_to == ["wandb"]
    assert args.warmup_steps == pytest.approx(0.1) and args.logging_steps == 1


@pytest.mark.parametrize("experiment", GROUPS["experiment"])
def test_every_recipe_builds_its_grpo_config(experiment, tmp_path):
    cfg = compose([f"+experiment={experiment}"])
    terms = build_terms(cfg.reward.terms)
    args = build_grpo_config(Sections(cfg), tmp_path, [t.weight for t in terms], check_only=True)
    assert args.max_steps == cfg.trainer.max_steps


def test_the_lora_note_recipes_are_one_word_each():
    math = compose(["+experiment=math_7b_base_lora_3090"])
    assert (math.model.path, math.data.source, math.reward.name, math.lora.name, math.hardware.name) == (
        "Qwen/Qwen2.5-7B",
        "math",
        "math",
        "r16",
        "rtx3090",
    )
    assert math.template.name == "r1zero_base" and math.trainer.warmup_steps == 0
    zh = compose(["+experiment=zh_7b_instruct_lora_3090"])
    assert (zh.model.path, zh.data.source, zh.reward.name, zh.judge.backend, zh.template.name) == (
        "Qwen/Qwen2.5-7B-Instruct",
        "zh_general",
        "zh_general",
        "reference",
        "qwen_chat",
    )
    for size in ("0.5b", "1.5b"):
        assert compose([f"+experiment=math_{size}_base_lora_3090"]).model.name == f"qwen{size}"
        assert compose([f"+experiment=zh_{size}_instruct_lora_3090"]).model.name == f"qwen{size}-instruct"
