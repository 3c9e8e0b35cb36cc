"""The export tokenizer (climb.climbmix.retokenize, `export.tokenizer`).

Contract: with a user's Hugging Face tokenizer (a local folder, offline) the tokenized JSONL and the Megatron
files hold that tokenizer's ids of the drawn texts, no special tokens but one eos id after each Megatron
document; Megatron-LM's own IndexedDataset reads them (uint16 below 65,500 ids, int32 above) and they decode back
to the texts; Parquet is byte-identical to the default export; the budget counts ClimbLab's tokens while the
exported tokens are reported and verified; climbmix.json and the card name the tokenizer and the sha256 of its
files. A tokenizer without an eos token, or one that cannot be loaded, stops the export before it writes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from climb.climbmix.export import export_to_directory, verify_export
from climb.climbmix.plan import ExportSettings
from tests.climb.climbmix.test_climbmix import build_climblab_storage

EOS_TOKEN = "<|endoftext|>"
WIDE_OFFSET = 65_600  # the wide tokenizer's ids of real words start here: every one needs int32


def save_bpe_tokenizer(folder: Path) -> Path:
    """A byte-level BPE (a few hundred ids) trained on text like the fixture's, saved as a transformers folder."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    texts = [f"c{k} " + " ".join(str(i) for i in range(k, 1000, 3)) for k in range(3)]
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=400, special_tokens=[EOS_TOKEN], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token=EOS_TOKEN).save_pretrained(str(folder))
    return folder


def save_wide_tokenizer(folder: Path, *, eos: bool = True) -> Path:
    """A word-level tokenizer of 66,604 ids whose words (c0-c2, 0-999) all sit above 65,500."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = [EOS_TOKEN] + [f"w{i}" for i in range(WIDE_OFFSET - 1)] + ["c0", "c1", "c2"] + [str(i) for i in range(1000)]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token=EOS_TOKEN))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, **({"eos_token": EOS_TOKEN} if eos else {})).save_pretrained(
        str(folder))
    return folder


def _texts(out: Path) -> list[dict]:
    return pa.concat_tables([pq.read_table(p) for p in sorted((out / "parquet").glob("*.parquet"))]).to_pylist()


def _sha256sum_digest(folder: Path, names: set[str] | None = None) -> str:
    """What `sha256sum <files, sorted> | sha256sum` prints for the folder's files (those of `names`)."""
    listing = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sorted(folder.iterdir())
                      if names is None or p.name in names)
    return hashlib.sha256(listing.encode()).hexdigest()


@pytest.fixture
def storage(tmp_path):
    return build_climblab_storage(tmp_path / "home")


def megatron_documents_decode_to_the_texts(out: Path, tokenizer_folder: Path, dtype: type) -> list[np.ndarray]:
    """Read an export's Megatron files with Megatron-core's own IndexedDataset and check that each cluster's
    documents are in `dtype`, end with the eos id and decode to that cluster's drawn texts (the same texts, as
    often, as the Parquet files); returns every document."""
    megatron = pytest.importorskip("megatron.core.datasets.indexed_dataset")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_folder))
    parquet, every = _texts(out), []
    for entry in json.loads((out / "megatron" / "blend.json").read_text())["datasets"]:
        dataset = megatron.IndexedDataset(str(out / entry["prefix"]))
        assert dataset.index.dtype == dtype and len(dataset) == entry["documents"]
        documents = [np.array(dataset[i]) for i in range(len(dataset))]  # copies: its map closes with it
        assert all(d[-1] == tokenizer.eos_token_id for d in documents)
        decoded = Counter(tokenizer.decode(d[:-1].tolist(), clean_up_tokenization_spaces=False) for d in documents)
        assert decoded == Counter(r["text"] for r in parquet if r["cluster_id"] == entry["cluster_id"])
        every += documents
    return every


@pytest.mark.parametrize("kind, dtype", [("bpe", np.uint16), ("wide", np.int32)])
def test_megatron_files_in_the_user_tokenizer_read_by_megatron_and_decode_to_the_texts(storage, tmp_path, kind,
                                                                                        dtype):
    """Megatron-core's IndexedDataset reads each cluster's file in the tokenizer's dtype (int32 for ids from
    65,500); every document ends with its eos id and decodes back to a drawn text of that cluster."""
    folder = (save_bpe_tokenizer if kind == "bpe" else save_wide_tokenizer)(tmp_path / kind)
    out = tmp_path / "mix"
    summary = export_to_directory(storage=storage, out=out, settings=ExportSettings(tokens=3_000,
                                                                                   tokenizer=str(folder)))
    documents = megatron_documents_decode_to_the_texts(out, folder, dtype)
    assert all((d[:-1] >= WIDE_OFFSET).all() for d in documents) or kind == "bpe"  # the high ids survive
    assert summary["tokenizer"]["vocab_size"] == (400 if kind == "bpe" else WIDE_OFFSET + 1003)
    assert verify_export(str(out))[0]


def test_jsonl_rows_are_the_parquet_texts_in_the_user_tokenizer(storage, tmp_path):
    """Row for row, the JSONL ids are the tokenizer's encoding of the Parquet text without special tokens."""
    from transformers import AutoTokenizer

    folder = save_bpe_tokenizer(tmp_path / "bpe")
    out = tmp_path / "mix"
    export_to_directory(storage=storage, out=out, settings=ExportSettings(tokens=3_000, tokenizer=str(folder),
                                                                          documents_per_file=20))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    rows = [json.loads(line) for p in sorted((out / "jsonl").glob("*.jsonl")) for line in p.read_text().splitlines()]
    parquet = _texts(out)
    assert len(rows) == len(parquet) > 20
    for row, text in zip(rows, parquet):
        assert row["cluster_id"] == text["cluster_id"] and row["token_count"] == len(row["tokens"])
        assert row["tokens"] == tokenizer(text["text"], add_special_tokens=False)["input_ids"]


def test_budget_counts_climblab_tokens_and_the_exported_tokens_are_reported(storage, tmp_path):
    """The plan (documents, ClimbLab tokens) and the Parquet files are the default export's; climbmix.json's
    exported_tokens are what the JSONL holds per cluster, and the card names the tokenizer and its files' hash."""
    folder = save_bpe_tokenizer(tmp_path / "bpe")
    settings = ExportSettings(tokens=3_000, seed=5)
    default = export_to_directory(storage=storage, out=tmp_path / "default", settings=settings)
    user = export_to_directory(storage=storage, out=tmp_path / "user",
                               settings=ExportSettings(tokens=3_000, seed=5, tokenizer=str(folder)))
    assert user["totals"] == default["totals"] and user["clusters"] == default["clusters"]
    for name in default["outputs"]["parquet"]:
        assert (tmp_path / "user" / name).read_bytes() == (tmp_path / "default" / name).read_bytes()
    per_cluster = Counter()
    for path in sorted((tmp_path / "user" / "jsonl").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            per_cluster[str(row["cluster_id"])] += row["token_count"]
    assert user["tokenizer"]["exported_tokens"] == dict(per_cluster)
    assert sum(per_cluster.values()) != user["totals"]["tokens"]  # a different tokenizer, other counts
    assert default["tokenizer"]["exported_tokens"] == {str(r["cluster_id"]): r["tokens"]
                                                       for r in default["clusters"] if r["tokens"]}
    digest = _sha256sum_digest(folder)
    assert user["tokenizer"]["sha256"] == digest and set(user["tokenizer"]["files"]) == {
        p.name for p in folder.iterdir()}
    card = (tmp_path / "user" / "README.md").read_text()
    assert f"`{folder}` (chosen for the export, not the proxies' own)" in card and digest in card
    assert f"hold {sum(per_cluster.values()):,} tokens of this tokenizer" in card


def test_a_changed_tokenizer_changes_the_hash(storage, tmp_path):
    """The sha256 follows the tokenizer's files: one added token, another hash (and other ids)."""
    from transformers import AutoTokenizer

    folder = save_bpe_tokenizer(tmp_path / "bpe")
    first = export_to_directory(storage=storage, out=tmp_path / "a",
                                settings=ExportSettings(tokens=1_000, formats=("jsonl",), tokenizer=str(folder)))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokenizer.add_tokens(["c1"])
    tokenizer.save_pretrained(str(folder))
    second = export_to_directory(storage=storage, out=tmp_path / "b",
                                 settings=ExportSettings(tokens=1_000, formats=("jsonl",), tokenizer=str(folder)))
    assert first["tokenizer"]["sha256"] != second["tokenizer"]["sha256"]
    assert second["tokenizer"]["vocab_size"] == first["tokenizer"]["vocab_size"] + 1


@pytest.mark.parametrize("make, message", [
    (lambda folder: save_wide_tokenizer(folder, eos=False), "has no eos token"),
    (lambda folder: folder, "AutoTokenizer cannot load it"),  # a folder that does not exist
], ids=["no-eos-token", "missing-folder"])
def test_an_unusable_tokenizer_stops_the_export_before_it_writes(storage, tmp_path, make, message):
    folder = make(tmp_path / "tok")
    with pytest.raises(ValueError, match=message):
        export_to_directory(storage=storage, out=tmp_path / "mix",
                            settings=ExportSettings(tokens=1_000, tokenizer=str(folder)))
    assert not (tmp_path / "mix").exists()


def test_a_hub_name_loads_offline_from_the_hub_cache_and_hashes_the_cached_files(tmp_path, monkeypatch):
    """A hub name found in the local hub cache loads in offline mode (no network), and its sha256 covers the
    cached tokenizer files (not the model's config.json)."""
    from huggingface_hub import constants

    from climb.climbmix.retokenize import load_export_tokenizer

    source = save_bpe_tokenizer(tmp_path / "source")
    repo = tmp_path / "cache" / "models--someone--tokenizer"
    snapshot = repo / "snapshots" / ("0" * 40)
    shutil.copytree(source, snapshot)
    (snapshot / "config.json").write_text('{"model_type": "gpt2"}')  # AutoTokenizer reads a hub repo's config
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))  # read at each call, unlike the env
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    described = load_export_tokenizer("someone/tokenizer").describe()
    assert described["source"] == "someone/tokenizer" and set(described["files"]) == {p.name for p in source.iterdir()}
    assert described["sha256"] == _sha256sum_digest(snapshot, set(described["files"])) == _sha256sum_digest(source)


def test_the_default_tokenizer_is_named_with_the_hash_of_its_stored_files(storage, tmp_path):
    """Without export.tokenizer, climbmix.json and the card name ClimbLab's tokenizer with the sha256 of its
    files under <root>/tokenizer/ (stats.json and the manifest are not tokenizer files)."""
    folder = save_bpe_tokenizer(tmp_path / "bpe")
    with storage.write_partition("tokenizer") as writer:
        writer.put_folder(str(folder))
        writer.write_json("stats.json", {"source": "byte-level BPE trained on 3 documents", "vocab_size": 1000,
                                         "eos_id": 0})
    summary = export_to_directory(storage=storage, out=tmp_path / "mix", settings=ExportSettings(tokens=1_000))
    assert summary["tokenizer"]["sha256"] == _sha256sum_digest(folder)
    assert set(summary["tokenizer"]["files"]) == {p.name for p in folder.iterdir()}
    card = (tmp_path / "mix" / "README.md").read_text()
    assert "`byte-level BPE trained on 3 documents` (ClimbLab's and the proxies' own)" in card
    assert _sha256sum_digest(folder) in card
