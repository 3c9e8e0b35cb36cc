"""benchmarks/scale.py's inputs: the corpus it writes (distinct short documents in equal shards) and its
synthetic vectors, which must be what the `embeddings` step would keep (so the benchmark measures the stages
after embedding, not a shortcut around them)."""

import json

import numpy as np
import pytest

from benchmarks.scale import AG_NEWS, synthetic_embeddings, write_corpus
from climb.core import Storage, load_config
from climb.corpus import config_shards, write_documents
from climb.semantic.embedding_store import embedder_settings, reusable_embeddings, verify_embeddings

pytestmark = pytest.mark.skipif(not AG_NEWS.exists(), reason="AG News is not beside the repository")


def test_the_corpus_is_distinct_short_documents_in_equal_shards(tmp_path):
    write_corpus(tmp_path, documents=103, shards=4)
    shards = sorted((tmp_path / "corpus").glob("*.jsonl"))
    rows = [json.loads(line) for shard in shards for line in shard.read_text().splitlines()]
    assert len(shards) == 4 and [len(s.read_text().splitlines()) for s in shards] == [26, 26, 26, 25]
    assert len({r["id"] for r in rows}) == len({r["text"] for r in rows}) == 103
    assert max(len(r["text"].split()) for r in rows) < 200  # a title and a description


def test_synthetic_vectors_are_kept_by_the_embeddings_step(tmp_path):
    write_corpus(tmp_path, documents=40, shards=2)
    config = load_config(str(tmp_path / "climb.yaml"), home=str(tmp_path / "home"))
    storage = Storage(config.storage_root)
    shards = config_shards(config)
    for i, shard in enumerate(shards):
        write_documents(shard, config=config, storage=storage, earlier_shards=shards[:i])
    synthetic_embeddings(tmp_path)
    settings = embedder_settings(config.embedding)
    for shard in shards:
        assert verify_embeddings(storage, shard.key)[0]
        report = reusable_embeddings(shard.key, storage=storage, settings=settings)
        assert report is not None and report.count == 20 and report.dim == 384
        vectors = np.asarray(storage.read_array("embeddings", "embeddings.npy", shard.key), dtype=np.float32)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-2)
