"""The manifest of a generated demo corpus: what ``generate_demo_corpus`` wrote, and ``manifest.json``."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class DemoManifest:
    """What ``generate_demo_corpus`` wrote; mirrors ``manifest.json``.

    Paths are absolute here and relative to ``out_dir`` in the JSON file, so a
    generated folder can be moved.  ``expected`` is the accounting a correct
    ingestion must reproduce: ``input_records`` counts every physical record
    (the malformed line included), ``quarantined`` the unparseable/invalid
    ones, ``duplicates`` the exact copies, ``short`` the too-short texts and
    ``clean`` what remains (== n_documents).
    """

    seed: int
    n_documents: int
    n_target_documents: int
    out_dir: str
    corpus_dir: str
    target_dir: str
    target_file: str
    domains: tuple[str, ...]
    domain_shares: dict[str, float]
    domain_counts: dict[str, int]
    token_estimate: dict[str, int]  # whitespace words of the clean corpus, per domain
    shards: dict[str, int]  # file name -> records written, defects included
    shard_domain_counts: dict[str, dict[str, int]]  # generated documents only, defects excluded
    defects: tuple[dict[str, Any], ...]
    target_mixture: dict[str, float]
    target_counts: dict[str, int]
    target_token_estimate: dict[str, int]
    expected: dict[str, int]

    _PATH_FIELDS = ("corpus_dir", "target_dir", "target_file")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with paths relative to ``out_dir`` (``out_dir`` omitted)."""
        data = asdict(self)
        root = Path(data.pop("out_dir"))
        for key in self._PATH_FIELDS:
            data[key] = Path(data[key]).relative_to(root).as_posix()
        data["domains"] = list(self.domains)
        data["defects"] = list(self.defects)
        return data

    def to_json(self) -> str:
        """The exact contents of ``manifest.json`` (sorted keys, indent 2)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2) + "\n"

    @classmethod
    def load(cls, out_dir: str | os.PathLike[str]) -> DemoManifest:
        """Read ``manifest.json`` from a generated folder, resolving paths against it."""
        root = Path(out_dir).resolve()
        data = json.loads((root / MANIFEST_FILE).read_text(encoding="utf-8"))
        for key in cls._PATH_FIELDS:
            data[key] = str(root / data[key])
        data["domains"] = tuple(data["domains"])
        data["defects"] = tuple(data["defects"])
        return cls(out_dir=str(root), **data)
