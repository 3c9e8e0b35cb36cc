"""A search target mixing target text and a real benchmark, prepared, split, and scored by one proxy job."""

import json

import numpy as np
import pytest

from climb.core.config import load_config
from climb.search.proxy import ProxyConfig
from climb.search.proxy_jobs import ProxyJob, run_proxy_job
from climb.search.target_set import contaminated_documents, load_target, prepare_target
from climb.core.storage import Storage
from climb.climblab.token_store import TokenStoreWriter
from climb.climblab.tokenization import eos_id, save_tokenizer, train_bpe
from tests.conftest import shared_data

TEXTS = [f"The patient received {i} mg of the drug and recovered after {i % 7 + 2} days of careful treatment."
         for i in range(300)] + [f"Stir {i} grams of flour into the warm sauce and simmer for {i % 9 + 3} minutes."
                                 for i in range(300)]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("target")
    piqa = shared_data("piqa", "valid.jsonl")
    (root / "target.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS[:200]))
    (root / "climb.yaml").write_text(
        "corpus: {paths: ['target.jsonl']}\nproxy: {sequence_length: 32, tokens: 4096, batch_size: 8}\n"
        f"target:\n  text: ['target.jsonl']\n  benchmarks: [{{name: piqa, path: '{piqa}', format: piqa, "
        "metric: acc_norm, weight: 1.0, limit: 40}]\n  holdout_fraction: 0.25\n")
    config = load_config(root / "climb.yaml", home=str(root / "home"))
    storage = Storage(config.storage_root)
    tokenizer = train_bpe(TEXTS, vocab_size=300)
    save_tokenizer(tokenizer, str(root / "tokenizer"))
    info = prepare_target(storage=storage, config=config, tokenizer=tokenizer)
    stores = {}
    for cid, texts in enumerate((TEXTS[:300], TEXTS[300:])):
        folder = str(root / f"store_{cid}")
        with TokenStoreWriter(folder, vocab_size=tokenizer.get_vocab_size(), eos_id=eos_id(tokenizer)) as writer:
            for encoding in tokenizer.encode_batch(texts, add_special_tokens=False):
                writer.add(encoding.ids)
        stores[cid] = folder
    return {"root": root, "storage": storage, "info": info, "stores": stores, "tokenizer": tokenizer}


def test_target_is_split_and_held_apart(prepared):
    """Text windows and benchmark items are split into disjoint search and holdout sets."""
    info, folder = prepared["info"], prepared["storage"].require("target_set")
    assert [p["name"] for p in info["parts"]] == ["text", "piqa"]
    search, holdout = load_target(folder, "search"), load_target(folder, "holdout")
    assert info["sizes"]["piqa_search_items"] == 30 and info["sizes"]["piqa_holdout_items"] == 10
    assert not {i.id for i in search.benchmarks["piqa"]} & {i.id for i in holdout.benchmarks["piqa"]}
    assert search.text_windows.shape[1] == 33 and len(holdout.text_windows) > 0


def test_one_proxy_job_scores_both_splits(prepared):
    """A proxy job trains on its mixture and returns the combined score and every metric for both splits."""
    job = ProxyJob(key="k", weights={0: 0.75, 1: 0.25}, store_folders=prepared["stores"],
                   vocab_size=prepared["tokenizer"].get_vocab_size(),
                   proxy=ProxyConfig(tokens=4096, sequence_length=32, batch_size=8, threads=1),
                   target_folder=prepared["storage"].require("target_set"),
                   tokenizer_folder=str(prepared["root"] / "tokenizer"), label="test")
    result = run_proxy_job(job)
    for split in ("search", "holdout"):
        metrics = result[f"{split}_metrics"]
        assert {"text", "piqa", "piqa_acc", "piqa_acc_norm"} <= set(metrics)
        assert 0 <= metrics["piqa_acc"] <= 1 and metrics["text"] > 0
        expected = (-metrics["text"] + metrics["piqa"]) / 2  # equal weights: -loss and acc_norm
        assert result[f"{split}_score"] == pytest.approx(expected)
    assert np.isfinite(result["training"]["final_loss"])


def test_the_target_files_version_follows_the_files(tmp_path):
    """target_files_version: the same for untouched files, new when a target file is rewritten, added or gone."""
    from climb.search.target_set import target_files_version

    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "a.jsonl").write_text(json.dumps({"text": TEXTS[0]}) + "\n")
    (tmp_path / "climb.yaml").write_text("corpus: {paths: ['target/*.jsonl']}\ntarget: {text: ['target/*.jsonl']}\n")

    def version() -> str:
        return target_files_version(load_config(tmp_path / "climb.yaml", home=str(tmp_path / "home")))

    first = version()
    assert version() == first
    (tmp_path / "target" / "a.jsonl").write_text(json.dumps({"text": TEXTS[1] + " edited"}) + "\n")
    edited = version()
    (tmp_path / "target" / "b.jsonl").write_text(json.dumps({"text": TEXTS[2]}) + "\n")
    added = version()
    (tmp_path / "target" / "b.jsonl").unlink()
    assert len({first, edited, added}) == 3 and version() == edited


def test_without_a_target_the_set_is_empty_and_the_search_stops_at_its_first_proxy(tmp_path):
    """ClimbLab reads the target set (decontamination), so a project without a target can still build it: the
    set is committed with no part and no contaminated document; loading it for a proxy names what to set."""
    (tmp_path / "climb.yaml").write_text("corpus: {paths: ['*.jsonl']}\n")
    config = load_config(tmp_path / "climb.yaml", home=str(tmp_path / "home"))
    storage = Storage(config.storage_root)
    info = prepare_target(storage=storage, config=config, tokenizer=train_bpe(TEXTS, vocab_size=300))
    assert info["parts"] == [] and info["contamination"]["documents"] == {"search": 0, "holdout": 0}
    assert contaminated_documents(storage).num_rows == 0
    with pytest.raises(ValueError, match="no search target: set target.text"):
        load_target(info["path"], "search")
