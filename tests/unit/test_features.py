"""cmd=train's features as plug-ins: chosen by `features:`, each on when its own section says so, their
callbacks in the one order the metrics need, and a feature of the user's own found by import path."""

from __future__ import annotations

import pytest

from r1exp.errors import ConfigError
from r1exp.features import Feature, Run, Slot, build_features, feature_class, ordered_callbacks
from r1exp.sections import Sections
from tests.conftest import compose


class Probe(Feature):
    """A feature of a user's own (found by import path)."""

    name = "probe"


class NotAFeature:
    pass


def _names(overrides: list[str]) -> list[str]:
    sections = Sections(compose(["+experiment=smoke", *overrides]))
    return [f.name for f in build_features(list(sections.features), sections)]


def test_every_built_in_feature_is_listed_and_resolves():
    listed = list(compose([]).features)
    assert listed == ["coldstart", "curriculum", "guided", "periodic_eval", "samples", "wandb"]
    for name in listed:
        assert feature_class(name).name == name


@pytest.mark.parametrize(
    "overrides, on",
    [
        ([], {"samples"}),
        (["logger.samples_every=0"], set()),
        (["curriculum=numbers"], {"curriculum", "samples"}),
        (["trainer.guide_with_reference=true"], {"guided", "samples"}),
        (["periodic_eval.every=2"], {"periodic_eval", "samples"}),
        (["logger=wandb"], {"wandb"} | {"samples"}),
        (["coldstart=solver_traces"], {"coldstart", "samples"}),
        (["features=[]", "curriculum=numbers", "periodic_eval.every=2"], set()),
    ],
)
def test_a_feature_is_on_when_its_section_says_so(overrides, on):
    assert set(_names(overrides)) == on


def test_a_feature_of_ones_own_by_import_path():
    assert feature_class("tests.unit.test_features:Probe") is Probe
    assert "probe" in _names(["features=[samples,tests.unit.test_features:Probe]"])


@pytest.mark.parametrize(
    "entry, says",
    [
        ("curicullum", "neither a built-in feature"),
        ("tests.unit.test_features:Nope", "neither a built-in feature"),
        ("no_such_pkg.mod:Feature", "neither a built-in feature"),
        ("tests.unit.test_features:NotAFeature", "not a subclass of r1exp.features.Feature"),
    ],
)
def test_a_wrong_entry_is_one_line_naming_features(entry, says):
    with pytest.raises(ConfigError, match=f"features: '{entry}'.*{says}"):
        feature_class(entry)


def test_callbacks_keep_the_one_order_metrics_need():
    run = Run(cfg=None, out=None, terms=[], counters=None)
    run.callbacks += [(Slot.LAST, "wandb"), (Slot.AFTER_METRICS, "samples"), (Slot.BEFORE_METRICS, "eval")]
    run.callbacks += [(Slot.AFTER_METRICS, "curriculum")]
    order = ordered_callbacks(run, "timer", "metrics", "console", "marker")
    assert order == ["timer", "eval", "metrics", "console", "samples", "curriculum", "marker", "wandb"]


def test_sections_carry_the_schema_defaults_typed():
    sections = Sections(compose(["+experiment=smoke"]))
    assert sections.periodic_eval.every == 0 and isinstance(sections.periodic_eval.prompts, int)
    assert sections.logger.jsonl is True and sections.trainer.guide_with_reference is False
    assert type(sections.reward).__name__ == "Reward" and sections.reward.format_metric == "format_rate"
