"""The model and dataset hub: reachability, dataset records, and r1exp's cache dir.

Errors name the hub id and split and the config field to fix, in one line. A hub dataset fails at
once when the hub is unreachable, instead of retrying for a minute.
"""

from __future__ import annotations

from r1exp.errors import DataError

# Where r1exp caches what it builds or fetches (the tiny model, judge replies); configurable per use.
DEFAULT_CACHE = "~/.cache/r1exp"


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the model hub answers a TCP connect (offline machines fail fast instead of retrying)."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    url = urlparse(constants.ENDPOINT)
    try:
        with socket.create_connection((url.hostname, url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def read_hub(hub: str, split: str, field: str, fix: str, config: str | None = None) -> list[tuple[str, dict]]:
    """Records of a hub dataset split (`datasets.load_dataset`); offline, one line naming `field` and `fix`."""
    from huggingface_hub import constants

    if not constants.HF_HUB_OFFLINE and not hub_reachable():
        raise DataError(f"{field}={hub}: the dataset hub is unreachable (offline); {fix}")
    try:
        import datasets

        ds = datasets.load_dataset(hub, config, split=split)
    except Exception as exc:  # the hub raises many types; the user needs the id, split and reason
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{field}={hub} (split {split}): cannot load it ({reason}); {fix}") from None
    return [(f"{hub}[{split}]:{i}", dict(record)) for i, record in enumerate(ds, start=1)]
