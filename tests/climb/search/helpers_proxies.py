"""A real proxy run on a small two-cluster store with a PIQA target, kept as a checkpoint: what the saved-proxy and
lm-eval tests score. Built like a search's run (run_one), in about a second of training on the CPU."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from climb.climblab.build import CLIMBLAB, CLUSTERS_FILE, TOKEN_STORES, cluster_folder
from climb.climblab.token_store import TokenStoreWriter
from climb.climblab.tokenization import eos_id, save_tokenizer, train_bpe
from climb.core.config import load_config
from climb.core.storage import Storage
from climb.search.proxy import ProxyConfig
from climb.search.proxy_jobs import ProxyJob
from climb.search.target_set import prepare_target
from tests.conftest import shared_data

TEXTS = [f"The patient received {i} mg of the drug and recovered after {i % 7 + 2} days of careful treatment."
         for i in range(300)] + [f"Stir {i} grams of flour into the warm sauce and simmer for {i % 9 + 3} minutes."
                                 for i in range(300)]
PROXY = ProxyConfig(tokens=8192, sequence_length=32, batch_size=8, threads=1, device="cpu")


def proxy_setup(root: Path) -> dict:
    """A committed target (PIQA, 40 items), a 300-id BPE and one token store per cluster under `root`."""
    piqa = shared_data("piqa", "valid.jsonl")
    (root / "target.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in TEXTS[:200]))
    (root / "climb.yaml").write_text(
        "corpus: {paths: ['target.jsonl']}\nsearch: {workers: 1}\n"
        "proxy: {tokens: 8192, sequence_length: 32, batch_size: 8, device: cpu}\n"
        f"target:\n  benchmarks: [{{name: piqa, path: '{piqa}', format: piqa, metric: acc, limit: 40}}]\n"
        "  holdout_fraction: 0.25\n")
    config = load_config(root / "climb.yaml", home=str(root / "home"))
    storage = Storage(config.storage_root)
    tokenizer = train_bpe(TEXTS, vocab_size=300)
    save_tokenizer(tokenizer, str(root / "tokenizer"))
    prepare_target(storage=storage, config=config, tokenizer=tokenizer)
    stores = {}
    for cid, texts in enumerate((TEXTS[:300], TEXTS[300:])):
        stores[cid] = str(root / f"store_{cid}")
        with TokenStoreWriter(stores[cid], vocab_size=tokenizer.get_vocab_size(), eos_id=eos_id(tokenizer)) as writer:
            for encoding in tokenizer.encode_batch(texts, add_special_tokens=False):
                writer.add(encoding.ids)
    return {"root": root, "storage": storage, "stores": stores, "vocab_size": tokenizer.get_vocab_size(),
            "config": config}


def commit_search_inputs(setup: dict) -> None:
    """Commit `climblab` (the two clusters and their token stores) and `tokenizer` as the search reads them."""
    clusters = [{"cluster_id": cid, "label": label, "documents": 300, "tokens": 6000, "store_tokens": 6000}
                for cid, label in enumerate(("medicine", "cooking"))]
    with setup["storage"].write_partition(CLIMBLAB) as writer:
        writer.write_table(CLUSTERS_FILE, pa.Table.from_pylist(clusters))
        for cid, folder in setup["stores"].items():
            writer.put_folder(folder, prefix=f"{TOKEN_STORES}/{cluster_folder(cid)}")
    with setup["storage"].write_partition("tokenizer") as writer:
        writer.put_folder(str(setup["root"] / "tokenizer"))
        writer.write_json("stats.json", {"vocab_size": setup["vocab_size"], "source": "trained"})


def proxy_job(setup: dict, *, key: str = "k0", save: bool = True) -> ProxyJob:
    """A job on the 75/25 mixture that keeps its checkpoint in the setup's storage when `save`."""
    return ProxyJob(key=key, weights={0: 0.75, 1: 0.25}, store_folders=setup["stores"], vocab_size=setup["vocab_size"],
                    proxy=PROXY, target_folder=setup["storage"].require("target_set"),
                    tokenizer_folder=str(setup["root"] / "tokenizer"), label="test",
                    save_root=setup["storage"].root if save else None)
