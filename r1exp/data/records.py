"""Raw records for data sources: JSONL files and hub datasets, each record with where it came from.

Errors name the file and line (or hub id and split) and the config field to fix, in one line. A
hub dataset fails at once when the hub is unreachable, instead of retrying for a minute.
"""

from __future__ import annotations

import json
from pathlib import Path

from r1exp.errors import DataError


def read_jsonl(path: Path) -> list[tuple[str, dict]]:
    """(`file:line`, record) for each non-blank line; the first broken line fails with its number."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{where}: not valid JSON ({exc.msg}, column {exc.colno}); fix or remove the line"
                ) from None
            if not isinstance(record, dict):
                raise DataError(f"{where}: a row must be a JSON object, not {type(record).__name__}")
            records.append((where, record))
    return records


def read_hub(hub: str, split: str, field: str, fix: str, config: str | None = None) -> list[tuple[str, dict]]:
    """Records of a hub dataset split (`datasets.load_dataset`); offline, one line naming `field` and `fix`."""
    from huggingface_hub import constants

    from r1exp.models import hub_reachable

    if not constants.HF_HUB_OFFLINE and not hub_reachable():
        raise DataError(f"{field}={hub}: the dataset hub is unreachable (offline); {fix}")
    try:
        import datasets

        ds = datasets.load_dataset(hub, config, split=split)
    except Exception as exc:  # the hub raises many types; the user needs the id, split and reason
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{field}={hub} (split {split}): cannot load it ({reason}); {fix}") from None
    return [(f"{hub}[{split}]:{i}", dict(record)) for i, record in enumerate(ds, start=1)]
