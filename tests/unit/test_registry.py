"""One Registry: lazy "module:attr" entries, user import paths, duplicates refused, one-line errors."""

import sys

import pytest

from r1exp.common.registry import Registry, is_import_path
from r1exp.errors import ConfigError


def test_a_table_entry_is_imported_on_first_use_only():
    sys.modules.pop("email.utils", None)
    reg = Registry("thing", {"quote": "email.utils:quote"})
    assert "email.utils" not in sys.modules  # declaring the table imports nothing
    assert reg.get("quote")('a"b') == 'a\\"b'
    assert "email.utils" in sys.modules and reg.names() == ["quote"] and "quote" in reg


def test_a_user_import_path_resolves_without_registration():
    reg = Registry("reward", {})
    assert reg.get("os.path:join", "reward.terms.x.fn") is __import__("os").path.join


@pytest.mark.parametrize(
    "name, needle",
    [
        ("nope", "reward.terms.x.fn='nope' is not a registered reward; known: a"),
        ("no_such_module_xyz:f", "cannot import no_such_module_xyz"),
        ("os.path:no_such_attr", "os.path has no attribute 'no_such_attr'"),
    ],
)
def test_unknown_names_are_one_line_naming_the_field(name, needle):
    reg = Registry("reward", {"a": "os.path:join"})
    with pytest.raises(ConfigError) as err:
        reg.get(name, "reward.terms.x.fn")
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_a_name_is_registered_once():
    reg = Registry("reward", {"a": "os.path:join"})
    with pytest.raises(ValueError, match="already registered"):
        reg.add("a", len)
    reg.register("b")(len)
    assert reg["b"] is len and reg.pop("b") is len and "b" not in reg


def test_import_path_shape():
    assert is_import_path("pkg.mod:attr") and is_import_path("m:a.b")
    assert not is_import_path("countdown_correct") and not is_import_path("pkg.mod:") and not is_import_path("a b:c")
