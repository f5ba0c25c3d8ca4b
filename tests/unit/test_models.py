"""The offline tiny model, real-model loading errors, LoRA config, weight hashing and the checkpoints' card."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1exp import schema
from r1exp.errors import ModelLoadError
from r1exp.models import (
    TAG_TOKENS,
    TinySpec,
    build_tiny,
    load_model,
    load_tokenizer,
    lora_config,
    weights_hash,
    write_model_card,
)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny(TinySpec(), tmp_path_factory.mktemp("cache"))


def test_tiny_tokenizer_round_trips_and_keeps_tags(tiny_dir):
    tok = load_tokenizer(str(tiny_dir))
    assert type(tok).__name__ == "Qwen2Tokenizer"
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    text = "Using [3, 41, 7]: <think>41 - 3 * 7 = 20</think>\n<answer>41 - 3 * 7</answer> 你好"
    ids = tok(text)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == text
    for tag in TAG_TOKENS:
        assert len(tok(tag, add_special_tokens=False)["input_ids"]) == 1
    for ch in "0123456789+-*/()=":
        assert tok.convert_tokens_to_ids(ch) != tok.unk_token_id
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_tiny_build_is_deterministic_and_cached(tiny_dir, tmp_path):
    again = build_tiny(TinySpec(), tmp_path)
    for name in ("model.safetensors", "tokenizer.json"):
        assert (again / name).read_bytes() == (tiny_dir / name).read_bytes()
    mtime = (again / "model.safetensors").stat().st_mtime_ns
    assert build_tiny(TinySpec(), tmp_path) == again
    assert (again / "model.safetensors").stat().st_mtime_ns == mtime
    assert build_tiny(TinySpec(seed=1), tmp_path) != again


def test_tiny_model_has_the_shape_that_learns(tiny_dir):
    model = load_model(str(tiny_dir), "float32")
    assert model.config.model_type == "qwen2"
    assert model.config.tie_word_embeddings is False
    assert model.config.initializer_range == pytest.approx(0.1)
    assert model.get_input_embeddings().weight.std().item() == pytest.approx(0.1, rel=0.1)


def test_offline_hub_id_fails_with_one_line_naming_the_fix(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError) as err:
        load_tokenizer("Qwen/Qwen2.5-1.5B")
    msg = str(err.value)
    assert "\n" not in msg and "model.path=Qwen/Qwen2.5-1.5B" in msg and "model=tiny" in msg


def test_missing_local_dir_fails_with_one_line(tmp_path):
    with pytest.raises(ModelLoadError, match=r"model\.path=.*model=tiny"):
        load_model(str(tmp_path / "nope"))


def test_weights_hash_sees_base_weights_through_lora(tiny_dir):
    from peft import get_peft_model

    model = load_model(str(tiny_dir), "float32")
    base = weights_hash(model)
    lora = schema.Lora(name="r4", r=4, alpha=8, dropout=0.0, target_modules=["q_proj", "v_proj"])
    peft_model = get_peft_model(model, lora_config(lora))
    assert weights_hash(peft_model) == base
    with __import__("torch").no_grad():
        next(p for n, p in peft_model.named_parameters() if "lora_B" in n).add_(1.0)
        assert weights_hash(peft_model) == base  # adapters are not the reference
        peft_model.base_model.model.model.embed_tokens.weight.add_(1.0)
    assert weights_hash(peft_model) != base
    assert lora_config(schema.Lora(name="none")) is None


def test_the_checkpoints_card_names_the_model_the_run_started_from(tmp_path, tiny_dir):
    """TRL's card says "fine-tuned version of [None]" for a local base; r1exp's names it."""
    hub = write_model_card(tmp_path / "hub", "Qwen/Qwen2.5-1.5B").read_text()
    assert "base_model: Qwen/Qwen2.5-1.5B" in hub and "(https://huggingface.co/Qwen/Qwen2.5-1.5B)" in hub
    local = write_model_card(tmp_path / "local", str(tiny_dir)).read_text()
    assert f"`{tiny_dir}` (a local directory" in local and "base_model:" not in local
    assert "huggingface.co" not in local
    unknown = write_model_card(tmp_path / "unknown", None).read_text()
    for card in (hub, local, unknown):
        assert "None" not in card and "checkpoint-N/" in card and "final/" in card


@settings(derandomize=True, deadline=None, max_examples=60)
@given(base=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}/[A-Za-z0-9][A-Za-z0-9_.-]{0,30}", fullmatch=True))
def test_any_hub_id_is_the_cards_base_model(tmp_path_factory, base):
    from huggingface_hub import ModelCard

    card = ModelCard.load(write_model_card(tmp_path_factory.mktemp("card"), base))
    assert card.data.base_model == base and f"[{base}](https://huggingface.co/{base})" in card.text
