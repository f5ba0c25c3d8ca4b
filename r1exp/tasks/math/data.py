"""Math word problems from a local JSONL file or a hub dataset, mapped to rows by config.

One source, `math`, serves MATH train, MATH-500, GSM8K, CMATH and any file shaped like them: the config names the
question field, the gold field, and how the gold is read from it (`answer_format`): as is (`field`),
the text after the last `####` (GSM8K), or the content of the last `\\boxed{}` (a MATH solution). A
row is `question`, `answer` (the gold as a string), `source` (`data.name`), and when configured
`difficulty` (an int: MATH's level, CMATH's grade), `solution` (the dataset's worked solution, kept as
a reference) and extra fields carried as they are.

Every row is checked before training starts: a broken line, a missing field or an empty gold fails
with the file, the line and the config key to fix. The test split is held out by a seeded shuffle,
so it is the same for every run with the same seed and file.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from r1exp.common.answers import last_boxed
from r1exp.common.hub import read_hub
from r1exp.common.jsonl import read_records
from r1exp.common.splits import size, split
from r1exp.errors import ConfigError, DataError
from r1exp.schema import MathData, as_data
from r1exp.tasks.base import DataSource

ANSWER_FORMATS = ("field", "after_hashes", "last_boxed")


def gold_from(text: str, answer_format: str) -> str | None:
    """The gold answer read from a field's text, or None when the format finds none."""
    if answer_format == "after_hashes":
        _, sep, tail = text.rpartition("####")
        return tail.strip() if sep else None
    if answer_format == "last_boxed":
        boxed = last_boxed(text)
        return boxed.strip() if boxed is not None else None
    return text.strip()


def _difficulty(value: Any) -> int | None:
    """An int difficulty from an int or a label with one number in it ("Level 3")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        numbers = re.findall(r"\d+", value)
        if len(numbers) == 1:
            return int(numbers[0])
    return None


def _field(record: dict, key: str, field: str, where: str) -> Any:
    if field not in record:
        known = ", ".join(sorted(map(str, record))) or "none"
        raise DataError(f"{where}: no field {field!r} (data.{key}); the row's fields are: {known}")
    return record[field]


def to_row(record: dict, where: str, data: MathData) -> dict:
    """One record as a row (see the module docstring); `where` names the file and line in errors."""
    fmt = str(data.answer_format)
    question = _field(record, "question_field", str(data.question_field), where)
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{where}: field {data.question_field!r} (data.question_field) must be non-empty text")
    raw = _field(record, "answer_field", str(data.answer_field), where)
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = str(raw)
    gold = gold_from(raw, fmt) if isinstance(raw, str) else None
    if not gold:
        raise DataError(
            f"{where}: field {data.answer_field!r} (data.answer_field) gives no gold answer with "
            f"data.answer_format={fmt}; check the field and the format ({', '.join(ANSWER_FORMATS)})"
        )
    row = {"question": question, "answer": gold, "source": str(data.name)}
    if data.solution_field:
        solution = _field(record, "solution_field", str(data.solution_field), where)
        row["solution"] = None if solution is None else str(solution)
    if data.difficulty_field:
        value = _field(record, "difficulty_field", str(data.difficulty_field), where)
        level = _difficulty(value)
        # MATH marks a few problems "Level ?": the level is unknown, the problem is fine.
        unknown = value is None or (isinstance(value, str) and value.strip().endswith("?"))
        if level is None and not unknown:
            raise DataError(
                f"{where}: field {data.difficulty_field!r} (data.difficulty_field) = {value!r} is not a "
                "difficulty (an int or a label with one number); set data.difficulty_field=null to drop it"
            )
        if level is not None:
            row["difficulty"] = level
    for name in data.extra_fields:
        row[str(name)] = _field(record, "extra_fields", str(name), where)
    return row


def _records(data: MathData) -> list[tuple[str, dict]]:
    path, hub = data.path, data.hub
    if bool(path) == bool(hub):
        raise ConfigError(
            f"data.path={path!r}, data.hub={hub!r}: set exactly one (a local JSONL file or a hub dataset id)"
        )
    if hub:
        from huggingface_hub import constants

        fix = "point data.path at a local JSONL copy (with data.hub=null)"
        if constants.HF_HUB_OFFLINE:
            fix += ", or run once where the hub is reachable to cache it"
        return read_hub(str(hub), str(data.hub_split), "data.hub", fix, data.hub_config)
    from hydra.utils import to_absolute_path

    file = Path(to_absolute_path(str(Path(str(path)).expanduser())))
    if not file.is_file():
        raise DataError(f"data.path={path}: no such file; set R1EXP_DATA_DIR to the folder that holds it, or data.path")
    return read_records(file)


def math_source(data: Any) -> tuple[list[dict], list[dict]]:
    """Train and test rows of a math dataset (see the module docstring).

    An evaluation set (`data.eval_only`) is all test: every row, in a seeded order, no training rows.
    """
    data = as_data(data, MathData)
    fmt = str(data.answer_format)
    if fmt not in ANSWER_FORMATS:
        raise ConfigError(f"data.answer_format={fmt!r} is unknown; one of: {', '.join(ANSWER_FORMATS)}")
    test_size = size(data, "test_size") or 0
    train_size = size(data, "train_size")
    rows = [to_row(record, where, data) for where, record in _records(data)]
    if data.eval_only:
        return split(rows, len(rows), 0, int(data.seed))
    wanted = test_size + (train_size if train_size is not None else 1)
    if wanted > len(rows):
        raise ConfigError(
            f"data.test_size={test_size}, data.train_size={train_size}: the data has {len(rows)} rows; "
            "lower the sizes (train_size=null takes the rest, and at least one row)"
        )
    # A question asked twice in a file never sits on both sides of the split.
    return split(rows, test_size, train_size, int(data.seed), dedupe="question")


def reference_parts(row: dict[str, Any], rng: random.Random, wrong_attempts: int = 1) -> tuple[str, str] | None:
    """(think, answer) for a math row with a worked solution: the solution and its boxed gold (the same
    for every `rng` and `wrong_attempts`: a worked solution has no search to vary)."""
    if row.get("solution") and row.get("answer") is not None:
        return str(row["solution"]).strip(), f"\\boxed{{{row['answer']}}}"
    return None


def columns(data: Any) -> set[str]:
    """Columns every row of this math data carries (see `to_row`)."""
    data = as_data(data, MathData)
    out = {"question", "answer", "source"}
    if data.solution_field:
        out.add("solution")
    if data.difficulty_field:
        out.add("difficulty")
    return out | {str(name) for name in data.extra_fields}


source = DataSource(math_source, columns)
