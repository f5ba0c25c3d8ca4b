"""Chinese questions with a reference answer, from JSONL (data=zh_general and its presets).

Why: the LoRA note's general task has no checkable answer; an LLM judge compares the answer block
with a reference, so every row needs one. Field names come from the config, so a file is used as it
is. A multiple-choice row (an options mapping and a label, as in GAOKAO) becomes the question followed
by its choices, and its reference names the choice and its text ("D. ..."); a row whose choices are
inline (a label and the choice text, as in cn_middle_school) gets "C. -6"; any other row gets the
reference field as it is. A configured field must exist on every row; the first broken line or missing
field stops the run before training with the file, line and field.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from r1exp.common.hub import read_hub
from r1exp.common.jsonl import read_records
from r1exp.common.splits import size, split
from r1exp.errors import ConfigError, DataError
from r1exp.schema import ZhGeneralData, as_data
from r1exp.tasks.base import DataSource

# Separators allowed between the letters of a multi-answer label ("AD", "A B D", "A,C").
_LABEL_SEPARATORS = " ,，、;；"
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def _scalar_text(value: Any) -> str | None:
    """A non-empty string or number as text; anything else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _fields(data: ZhGeneralData) -> dict[str, str | None]:
    """The field names of a checked section (`ZhGeneralData.check`)."""
    return {key: getattr(data, key) for key in ZhGeneralData.FIELDS}


def _labels(label: str, options: dict, where: str, field: str) -> list[str]:
    letters = [ch for ch in label if ch not in _LABEL_SEPARATORS]
    unknown = [ch for ch in letters if ch not in options]
    if not letters or unknown:
        raise DataError(
            f"{where}: field {field!r}={label!r} must name options among {', '.join(options)}; fix the row "
            "or data.label_field"
        )
    return list(dict.fromkeys(letters))


def normalize(row: dict, fields: dict[str, str | None], where: str, name: str) -> dict[str, Any]:
    """One source row as {question, reference, source[, difficulty]}; DataError naming the field otherwise."""

    def need(key: str) -> Any:
        field = fields[key]
        if field not in row:
            keys = ", ".join(sorted(row)) or "none"
            raise DataError(f"{where}: field {field!r} (data.{key}) is missing; the row has fields: {keys}")
        return row[field]

    question = need("question_field")
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{where}: field {fields['question_field']!r} (data.question_field) must be non-empty text")
    question = question.strip()
    options = need("options_field") if fields["options_field"] else None
    label = need("label_field") if fields["label_field"] else None
    text = _scalar_text(need("reference_field")) if fields["reference_field"] else None

    if isinstance(options, dict) and options:
        if not isinstance(label, str) or not label.strip():
            raise DataError(
                f"{where}: field {fields['label_field']!r} (data.label_field) must name the right option(s) "
                "of a multiple-choice row"
            )
        options = {str(k).strip(): str(v).strip() for k, v in options.items()}
        question += "\n" + "\n".join(f"{k}. {v}" for k, v in options.items())
        reference = "\n".join(f"{k}. {options[k]}" for k in _labels(label, options, where, fields["label_field"]))
    elif options not in (None, {}) and not isinstance(options, dict):
        raise DataError(f"{where}: field {fields['options_field']!r} (data.options_field) must be a mapping or null")
    elif text is None:
        field = fields["reference_field"] or fields["options_field"]
        raise DataError(f"{where}: field {field!r} gives no reference answer for this row (empty or null)")
    elif isinstance(label, str) and label.strip():
        reference = f"{label.strip()}. {text}"
    else:
        reference = text
    out: dict[str, Any] = {"question": question, "reference": reference, "source": name}
    if fields["difficulty_field"]:
        out["difficulty"] = need("difficulty_field")
    return out


def read_rows(data: Any) -> list[dict[str, Any]]:
    """Every row of `data.path`, normalized; errors name the file, line and field."""
    data = as_data(data, ZhGeneralData)
    fields = _fields(data)
    raw, hub, name = data.path, data.hub, str(data.name)
    if hub:
        if raw:
            raise ConfigError(f"data.path={raw!r}, data.hub={hub!r}: set exactly one (a JSONL file or a hub id)")
        records = read_hub(
            str(hub),
            str(data.hub_split),
            "data.hub",
            "download the data on a connected machine and pass data.path=/path/to/file.jsonl data.hub=null",
            data.hub_config,
        )
        return [normalize(row, fields, where, name) for where, row in records]
    if not isinstance(raw, str) or not raw:
        raise ConfigError("data.path is empty: give a JSONL file (or a hub dataset id)")
    path = Path(raw).expanduser()
    if path.is_file():
        rows_iter = read_records(path)
    elif _HUB_ID.fullmatch(raw) and not raw.endswith((".jsonl", ".json")):
        rows_iter = read_hub(
            raw,
            str(data.hub_split),
            "data.path",
            "data.path is not a file, so it was read as a hub dataset id: download the data on a connected "
            "machine and pass data.path=/path/to/file.jsonl",
        )
    else:
        raise DataError(
            f"data.path={raw}: no such file; pass data.path=/path/to/file.jsonl (presets read $R1EXP_DATA_DIR)"
        )
    rows = [normalize(row, fields, where, name) for where, row in rows_iter]
    if not rows:
        raise DataError(f"data.path={raw}: no rows")
    return rows


def zh_general_source(data: Any) -> tuple[list[dict], list[dict]]:
    """Train and test rows of a zh_general file; train never repeats a test question.

    An evaluation set (`data.eval_only`) is all test: every row, in file order, no training rows.
    """
    data = as_data(data, ZhGeneralData)
    if data.eval_only:
        rows = read_rows(data)
        return split(rows, len(rows), 0, int(data.seed), file_order=True)
    test_size = size(data, "test_size", optional=False)
    train_size = size(data, "train_size")
    rows = read_rows(data)
    if test_size >= len(rows):
        raise ConfigError(
            f"data.test_size={test_size} leaves no training rows ({data.path} has {len(rows)}); lower data.test_size"
        )
    return split(rows, test_size, train_size, int(data.seed), dedupe="question", file_order=True)


def columns(data: Any) -> set[str]:
    """Columns every zh_general row carries."""
    data = as_data(data, ZhGeneralData)
    return {"question", "reference", "source"} | ({"difficulty"} if data.difficulty_field else set())


source = DataSource(zh_general_source, columns)


def reference_parts(row: dict[str, Any], rng: random.Random, wrong_attempts: int = 1) -> tuple[str, str] | None:
    """(think, answer) for a row with a reference answer: the reference, with no reasoning to show (nor
    failed attempts: `rng` and `wrong_attempts` change nothing).

    Reference-guided groups insert it in the template's format; the judges score it like any
    completion (the reasoning judge sees an empty reasoning block).
    """
    reference = row.get("reference")
    if reference is None or not str(reference).strip():
        return None
    return "", str(reference).strip()
