"""One registry of named entries, resolved lazily from "module:attr" paths.

Built-in entries are declared as import paths in a table (nothing registers by import side effect);
a name that is not in the table may itself be a user import path, "pkg.mod:attr". A second entry
under one name is refused.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from r1exp.errors import ConfigError


def is_import_path(name: str) -> bool:
    """Whether `name` has the shape "pkg.mod:attr"."""
    module, sep, attr = name.partition(":")
    return bool(sep and module and attr) and all(part.isidentifier() for part in (*module.split("."), *attr.split(".")))


def import_path(path: str, field: str) -> Any:
    """The object at "pkg.mod:attr"; one line naming `field` when it cannot be imported."""
    module_name, _, attr = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"{field}={path}: cannot import {module_name} ({exc}); put its package on PYTHONPATH or fix the path"
        ) from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(f"{field}={path}: {module_name} has no attribute {attr!r}") from None
    return obj


class Registry:
    """Named entries of one kind ("reward", "data source"), each an object or a lazy "module:attr" path.

    `load`, when given, yields more (name, entry) pairs; it runs on the registry's first use (so a table built from
    other modules, such as every task's rewards, imports nothing until it is read).
    """

    def __init__(
        self,
        kind: str,
        entries: Mapping[str, Any] | None = None,
        load: Callable[[], Iterable[tuple[str, Any]]] | None = None,
    ) -> None:
        self.kind = kind
        self._table: dict[str, Any] = {}
        self._load = load
        for name, entry in (entries or {}).items():
            self._put(name, entry)

    @property
    def _entries(self) -> dict[str, Any]:
        """Every entry, the lazily loaded ones included."""
        if self._load is not None:
            load, self._load = self._load, None
            for name, entry in load():
                self._put(name, entry)
        return self._table

    def _put(self, name: str, entry: Any) -> None:
        if name in self._table:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._table[name] = entry

    def add(self, name: str, entry: Any) -> None:
        """Add an object or a "module:attr" path under `name`; a name already taken is refused."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._put(name, entry)

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator form of `add`, for code that defines entries at run time (tests, notebooks)."""

        def deco(obj: Any) -> Any:
            self.add(name, obj)
            return obj

        return deco

    def get(self, name: str, field: str = "name") -> Any:
        """The entry under `name` (imported on first use), or a user's "pkg.mod:attr"; else one line."""
        if name in self._entries:
            entry = self._entries[name]
            if isinstance(entry, str):
                entry = self._table[name] = import_path(entry, field)
            return entry
        if isinstance(name, str) and is_import_path(name):
            return import_path(name, field)
        raise ConfigError(
            f"{field}={name!r} is not a registered {self.kind}; known: {', '.join(sorted(self._entries))} "
            "(or give an import path pkg.module:attr)"
        )

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def pop(self, name: str) -> Any:
        """Remove and return an entry (tests undo a temporary registration)."""
        return self._entries.pop(name)
