"""The tokenizer of ClimbMix's tokenized JSONL and Megatron files (docs/architecture.md, exports).

By default the export copies ClimbLab's token stores: ids of the project tokenizer the proxies were trained
with. `export.tokenizer` (or `climb export --tokenizer`) names any Hugging Face tokenizer instead, whatever
`transformers.AutoTokenizer` loads: a local folder (offline), or a hub name where there is a network or a
hub cache. The drawn documents' texts are then re-tokenized in batches by its fast (Rust) tokenizer with no
special tokens added, and its eos token ends each Megatron document, as Megatron-LM's
`tools/preprocess_data.py --append-eod` does. A slow-only tokenizer, or one without an eos token, is refused.

The token budget: sampling counts ClimbLab's tokens (`token_count`, climb/climbmix/plan.py), so the mixture and
the budget do not depend on the export tokenizer. The tokens written in its ids are counted per super-cluster
(repeats included, end-of-document ids not) and reported: `tokenizer.exported_tokens` in climbmix.json and
the card.

A tokenizer is identified by a sha256 of its files (those of TOKENIZER_FILES it has; a model folder's weights
and config are left out): the sha256 of their `sha256sum` listing ("<sha256>  <name>" lines sorted by name,
bytewise), so `sha256sum <those files, sorted> | sha256sum` in its folder gives the same digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from climb.climblab.build import TOKENIZER
from climb.climblab.token_store import TokenStore, TokenStoreWriter
from climb.climbmix.formats import sha256_of
from climb.core.storage import Storage

if TYPE_CHECKING:
    import tokenizers

    from climb.climbmix.plan import MixturePlan

# The files transformers saves and reads for a tokenizer (a model folder's weights are not hashed).
TOKENIZER_FILES = ("added_tokens.json", "chat_template.jinja", "merges.txt", "special_tokens_map.json",
                   "spiece.model", "tokenizer.json", "tokenizer.model", "tokenizer_config.json", "vocab.json",
                   "vocab.txt")
ENCODE_BATCH = 1024  # documents per encode call: the Rust tokenizer threads over a batch; bounds the memory held
RETOKENIZED = "retokenized"  # scratch folder of the re-tokenized token stores


def files_digest(files: Mapping[str, str]) -> str:
    """sha256 of a `sha256sum` listing of `files` (name -> sha256), one "<sha256>  <name>" line each, by name."""
    listing = "".join(f"{sha}  {name}\n" for name, sha in sorted(files.items()))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def _first_line(err: Exception) -> str:
    return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"


def _hashed_files(loaded, name_or_path: str) -> dict[str, str]:
    """sha256 of each tokenizer file it was loaded from: a local folder's, else the hub cache's copies."""
    names = sorted(set(TOKENIZER_FILES) | set(getattr(loaded, "vocab_files_names", {}).values()))
    folder = Path(name_or_path).expanduser()
    if folder.is_dir():
        paths = [folder / name for name in names]
    else:
        from huggingface_hub import try_to_load_from_cache

        cached = [try_to_load_from_cache(name_or_path, name) for name in names]
        paths = [Path(path) for path in cached if isinstance(path, str)]  # None or a not-found marker otherwise
    return {path.name: sha256_of(path) for path in paths if path.is_file()}


@dataclass(frozen=True)
class ExportTokenizer:
    """A loaded export tokenizer and what climbmix.json and the card say of it."""

    source: str  # as the user named it (a folder or hub name)
    vocab_size: int  # every id is below it, added tokens included; picks Megatron's dtype (int32 from 65,500)
    eos_id: int
    eos_token: str
    files: dict[str, str]  # file name -> sha256
    backend: tokenizers.Tokenizer = field(repr=False, compare=False)  # no truncation, no padding

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's ids, no special tokens added."""
        return [encoding.ids for encoding in self.backend.encode_batch_fast(list(texts), add_special_tokens=False)]

    def describe(self) -> dict:
        return {"source": self.source, "vocab_size": self.vocab_size, "eos_id": self.eos_id,
                "eos_token": self.eos_token, "sha256": files_digest(self.files), "files": self.files}


def load_export_tokenizer(name_or_path: str) -> ExportTokenizer:
    """The tokenizer `export.tokenizer` names, loaded with AutoTokenizer; ValueError, in one line, when unusable.

    Args:
        name_or_path: a local tokenizer folder, or a hub name (needs the network or the local hub cache).
    """
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    local = Path(name_or_path).expanduser()
    where = f"export tokenizer {name_or_path!r}"
    try:
        loaded = AutoTokenizer.from_pretrained(str(local) if local.is_dir() else name_or_path)
    except Exception as err:
        kind = "a folder" if local.is_dir() else "neither a local folder nor a hub name reachable now"
        raise ValueError(f"{where}: AutoTokenizer cannot load it ({kind}; {_first_line(err)})") from err
    if not getattr(loaded, "is_fast", False):
        raise ValueError(f"{where} loads only as a slow {type(loaded).__name__}: re-tokenizing needs a fast "
                         "tokenizer (save it once with its tokenizer.json)")
    if loaded.eos_token_id is None:
        raise ValueError(f"{where} has no eos token, which ends every Megatron document (--append-eod): set "
                         "eos_token in its tokenizer_config.json")
    backend = Tokenizer.from_str(loaded.backend_tokenizer.to_str())  # a copy: truncation and padding are cleared
    backend.no_truncation()
    backend.no_padding()
    return ExportTokenizer(source=name_or_path, vocab_size=max(len(loaded), backend.get_vocab_size(True)),
                           eos_id=int(loaded.eos_token_id), eos_token=str(loaded.eos_token),
                           files=_hashed_files(loaded, name_or_path), backend=backend)


def climblab_tokenizer(storage: Storage) -> dict:
    """ClimbLab's own tokenizer as the card names it: its stats.json and the files under `<root>/tokenizer/`."""
    stats = storage.read_json(TOKENIZER, "stats.json")
    folder = storage.require(TOKENIZER).rstrip("/")
    files = {path.rsplit("/", 1)[-1]: sha256_of(path, storage.fs.open) for path in storage.fs.find(folder)
             if path.rsplit("/", 1)[-1] in TOKENIZER_FILES}
    return {**{key: stats.get(key) for key in ("source", "vocab_size", "eos_id")},
            "sha256": files_digest(files) if files else None, "files": files}


class RetokenizedCluster:
    """One super-cluster's drawn documents in the export tokenizer's ids, in a scratch token store, addressed
    like ClimbLab's store (by the document's row in its super-cluster).

    Args:
        rows: the sorted rows the store holds, in its order.
        store: their ids, each document followed by the eos id.
    """

    def __init__(self, rows: np.ndarray, store: TokenStore):
        self.rows, self.store = rows, store

    def _position(self, row: int) -> int:
        position = int(np.searchsorted(self.rows, row))
        assert position < len(self.rows) and self.rows[position] == row, f"row {row} was not re-tokenized"
        return position

    def ids(self, row: int) -> np.ndarray:
        return self.store.document(self._position(row))

    def ids_with_eos(self, row: int) -> np.ndarray:
        position = self._position(row)
        return self.store.tokens[self.store.offsets[position] : self.store.offsets[position + 1]]


def retokenize(*, plan: MixturePlan, texts: Mapping[int, pa.ChunkedArray], tokenizer: ExportTokenizer,
               scratch: str, batch_size: int = ENCODE_BATCH) -> dict[int, RetokenizedCluster]:
    """Re-tokenize every document the plan draws (each once, however often it repeats), per super-cluster.

    Args:
        plan: the sampling plan (climb/climbmix/plan.py).
        texts: each drawn super-cluster's texts, by row.
        tokenizer: the export tokenizer.
        scratch: a local folder for the token stores (the caller removes it).
        batch_size: documents encoded together.
    """
    clusters = {}
    for draw in plan.clusters:
        if not len(draw.documents):
            continue
        rows = np.unique(draw.documents)
        folder = f"{scratch}/{RETOKENIZED}/cluster_id={draw.cluster_id}"
        with TokenStoreWriter(folder, vocab_size=tokenizer.vocab_size, eos_id=tokenizer.eos_id) as writer:
            for start in range(0, len(rows), batch_size):
                batch = texts[draw.cluster_id].take(pa.array(rows[start : start + batch_size], pa.int64()))
                for ids in tokenizer.encode(batch.to_pylist()):
                    writer.add(np.asarray(ids, dtype=np.int64))
        clusters[draw.cluster_id] = RetokenizedCluster(rows, TokenStore(folder))
    return clusters


def exported_tokens(plan: MixturePlan, tokens: Mapping) -> dict[str, int]:
    """Tokens per drawn super-cluster (JSON keys) in the tokenized formats (repeats counted, end-of-document ids not).

    Args:
        plan: the sampling plan.
        tokens: each super-cluster's ids by row (ClimbLab's clusters or `retokenize`'s).
    """
    return {str(draw.cluster_id): sum(len(tokens[draw.cluster_id].ids(row)) for row in draw.documents)
            for draw in plan.clusters if len(draw.documents)}
