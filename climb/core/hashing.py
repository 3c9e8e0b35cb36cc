"""One content hash for every content address and version of the project (proxy runs, data versions,
fingerprints, caches): sha256 of canonical JSON, so equal content gives an equal key on every machine."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Keys sorted, no spaces, non-JSON values (paths, enums) as their str()."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def content_hash(value: Any, *, length: int | None = None) -> str:
    """sha256 hex of `canonical_json(value)`, cut to `length` characters (None: all 64)."""
    digest = hashlib.sha256(canonical_json(value).encode()).hexdigest()
    return digest if length is None else digest[:length]
