"""Page sizes and continuation tokens of the run lists: a pipeline's runs and a run's children.

A token encodes the run (or pipeline) it pages and the offset of the next page, so a token of
another listing is refused rather than silently paging the wrong list.
"""

from __future__ import annotations

import base64
import binascii
import json

from airflow_provider_mlpipelines.emulator.errors import bad_request

DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 5000


def top_page_size(top: str | None) -> int:
    """The page size a ``$top`` query value asks for (the default without one)."""
    if top is None:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(top)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise bad_request(
            f"$top must be an integer from 1 to {MAX_PAGE_SIZE}, got '{top}'",
            "InvalidQuery",
            "$top",
        )
    return size


def encode_token(run_id: str, offset: int) -> str:
    """The continuation token of the page at ``offset`` of the list of ``run_id``."""
    raw = json.dumps({"run": run_id, "offset": offset}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, run_id: str) -> int:
    """The offset a continuation token of the list of ``run_id`` points at."""
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["run"] == run_id and isinstance(data["offset"], int) and data["offset"] >= 0:
            return int(data["offset"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise bad_request(
        "$continuationToken is not a token this listing returned",
        "InvalidContinuationToken",
        "$continuationToken",
    )
