"""The garbage collector at a launch's start and exit, where it walks the libraries' objects for nothing.

Importing torch, transformers, TRL, datasets and the rest builds about half a million objects that
live as long as the process. CPython's full collections (one each time a quarter more objects have
survived) walk every one of them again: nine passes, about 1 s of a launch's start-up, for a few
thousand objects freed; and the interpreter's exit walks them once more (about 1 s).

- `freeze_imports`: what a full collection that ran inside an import found alive is moved to the
  collector's permanent generation (`gc.freeze`), so later passes skip it. Garbage is collected as
  before; only objects that survived a full pass during an import are frozen, which at that point of
  a launch are the libraries' module state (a frozen object that later became garbage in a reference
  cycle would never be freed). It ends (`end`) before r1exp loads model weights or a tokenizer
  (r1exp.models) and when the command returns, so no model, trainer or data of a run is frozen by it.
- `skip_final_collection`: at exit, once the atexit handlers registered after it have run (wandb's,
  multiprocessing's; logging's flush runs after it), every object is frozen, so the interpreter frees
  what reference counts free and leaves the rest to the OS instead of walking it. Freezing frees and
  closes nothing; everything r1exp writes is closed by then.
"""

from __future__ import annotations

import atexit
import gc
import sys
from typing import Any

# The frozen import machinery's frames (importlib._bootstrap, which every import runs through).
_IMPORT_FILE = "<frozen importlib._bootstrap>"
_exit_registered = False


def _inside_import() -> bool:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == _IMPORT_FILE:
            return True
        frame = frame.f_back
    return False


def _after_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info["generation"] == 2 and _inside_import():
        gc.freeze()


def freeze_imports() -> None:
    """From now until `end`: the survivors of a full collection during an import are frozen."""
    if _after_collection not in gc.callbacks:
        gc.callbacks.append(_after_collection)


def end() -> None:
    """Collections work as CPython's own from here on (what was frozen stays frozen)."""
    if _after_collection in gc.callbacks:
        gc.callbacks.remove(_after_collection)


def active() -> bool:
    """Whether survivors of full collections during imports are being frozen."""
    return _after_collection in gc.callbacks


def skip_final_collection() -> None:
    """At interpreter exit, freeze every object before the interpreter's last collection (once per process)."""
    global _exit_registered
    if not _exit_registered:
        atexit.register(gc.freeze)
        _exit_registered = True
