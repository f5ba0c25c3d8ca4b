"""The collector during a launch's imports: survivors of a full pass inside an import are frozen, nothing else,
and loading a model ends it (r1exp/common/startup_gc.py)."""

import gc
import importlib
import sys

import pytest

from r1exp.common import startup_gc
from r1exp.models import TinySpec, build_tiny, load_tokenizer


@pytest.fixture(autouse=True)
def collector():
    """Each test starts with nothing frozen and leaves the collector as it found it."""
    gc.unfreeze()
    yield
    startup_gc.end()
    gc.unfreeze()


def import_collecting(tmp_path, monkeypatch, name: str) -> None:
    """Import a new module whose code runs a full collection (as importing a big library does)."""
    (tmp_path / f"{name}.py").write_text("import gc\ngc.collect()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module(name)
    monkeypatch.delitem(sys.modules, name)


def test_a_full_collection_inside_an_import_freezes_its_survivors(tmp_path, monkeypatch):
    startup_gc.freeze_imports()
    survivor = {"kept": [1, 2, 3]}
    import_collecting(tmp_path, monkeypatch, "collects_on_import")
    assert startup_gc.active()
    assert gc.get_freeze_count() > 0
    assert gc.is_tracked(survivor) and not any(o is survivor for o in gc.get_objects())


def test_garbage_is_still_collected_and_nothing_is_frozen_outside_imports(tmp_path, monkeypatch):
    startup_gc.freeze_imports()

    class Cycle:
        pass

    a, b = Cycle(), Cycle()
    a.other, b.other = b, a
    del a, b
    assert gc.collect() >= 2
    assert gc.get_freeze_count() == 0


def test_it_ends_when_asked_and_when_a_model_or_tokenizer_loads(tmp_path, monkeypatch):
    startup_gc.freeze_imports()
    startup_gc.end()
    import_collecting(tmp_path, monkeypatch, "collects_after_end")
    assert gc.get_freeze_count() == 0
    tiny = build_tiny(TinySpec(), tmp_path / "cache")
    startup_gc.freeze_imports()
    load_tokenizer(str(tiny))
    assert not startup_gc.active()
    startup_gc.freeze_imports()
    build_tiny(TinySpec(), tmp_path / "cache")
    assert not startup_gc.active()
