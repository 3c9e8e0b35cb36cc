"""Proxy runs as jobs: train one proxy on a mixture, score it on both target splits, cache the result.

A job is plain data (picklable), so a round's runs fan out over processes here and over pods on a
cluster. Results are content-addressed: `<root>/_cache/proxy_runs/<key>.json`, with the key a hash of
(mixture, proxy settings, target, data version), so a resumed or repeated round never trains the
same proxy twice. A job with `save_root` also keeps the trained proxy as a checkpoint beside its result
(climb.search.saved_proxies); a cached result without its checkpoint is trained again to save it (on the CPU
the same run gives the same weights).
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from climb.core.device import available_cpus
from climb.search.proxy import ProxyConfig, mean_token_loss, train_proxy
from climb.search.saved_proxies import save_proxy, saved_proxy
from climb.core.storage import Storage

CACHE = "proxy_runs"


@dataclass(frozen=True)
class ProxyJob:
    key: str  # content address (climb.search.proxy.proxy_key)
    weights: dict[int, float]  # super-cluster id -> weight
    store_folders: dict[int, str]  # super-cluster id -> token store folder
    vocab_size: int
    proxy: ProxyConfig
    target_folder: str  # the committed target_set
    tokenizer_folder: str  # the committed tokenizer
    label: str = ""  # what the run is for (round 2 #5, baseline uniform, ...)
    meta: dict = field(default_factory=dict)
    save_root: str | None = None  # the storage root to keep the trained proxy in (proxy.save); None: not kept


def _score(model, target, tokenizer, device: str) -> tuple[float, dict]:
    from climb.search.targets import combine, score_multiple_choice

    metrics: dict[str, float] = {}
    if target.text_windows is not None:
        metrics["text"] = mean_token_loss(model, target.text_windows, device=device)
    for name, items in target.benchmarks.items():
        result = score_multiple_choice(model, tokenizer, items, device=device)
        metrics[name] = result[target.metrics[name]]
        metrics[f"{name}_acc"], metrics[f"{name}_acc_norm"] = result["acc"], result["acc_norm"]
    return combine(metrics, target.parts), metrics


def run_proxy_job(job: ProxyJob) -> dict:
    """Train and score one proxy (runs in a worker process: reads everything from disk)."""
    from climb.core.device import resolve_placement
    from climb.search.target_set import load_target
    from climb.climblab.token_store import TokenStore
    from climb.climblab.tokenization import load_tokenizer

    started = time.perf_counter()
    stores = {cid: TokenStore(folder) for cid, folder in job.store_folders.items() if job.weights.get(cid, 0) > 0}
    weights = {cid: w for cid, w in job.weights.items() if w > 0}
    model, training = train_proxy(stores=stores, weights=weights, config=job.proxy, vocab_size=job.vocab_size)
    device = resolve_placement(job.proxy.device).device
    tokenizer = load_tokenizer(job.tokenizer_folder)
    result = {"key": job.key, "label": job.label, "weights": {str(k): v for k, v in job.weights.items()},
              "training": asdict(training), **job.meta}
    for split in ("search", "holdout"):
        score, metrics = _score(model, load_target(job.target_folder, split), tokenizer, device)
        result[f"{split}_score"], result[f"{split}_metrics"] = score, metrics
    if job.save_root is not None:
        save_proxy(model, storage=Storage(job.save_root), key=job.key, tokenizer_folder=job.tokenizer_folder,
                   record={**result, "proxy": asdict(job.proxy)})
    result["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _cached(job: ProxyJob, storage: Storage) -> dict | None:
    """The cached result, or None when there is none or the job keeps a checkpoint the cache lacks."""
    cached = storage.read_cache_json(CACHE, job.key)
    if cached is None or (job.save_root is not None and saved_proxy(storage, job.key) is None):
        return None
    return {**cached, "label": job.label, **job.meta, "reused": True}


def _commit(result: dict, storage: Storage, log: logging.Logger, progress: str = "") -> dict:
    """A freshly trained result written to the cache, with its log line."""
    storage.write_cache_json(CACHE, result["key"], result)
    training = result["training"]
    log.info(f"proxy {progress}[{result['label']}]: search score {result['search_score']:.4f}, "
             f"final train loss {training['final_loss']:.3f}, {training['tokens_per_second']:,.0f} tokens/s")
    return {**result, "reused": False}


def run_one(job: ProxyJob, *, storage: Storage, log: logging.Logger | None = None) -> dict:
    """One job's result from the cache, or trained in this process and cached (a Dagster step's one proxy)."""
    cached = _cached(job, storage)
    if cached is not None:
        return cached
    result = _commit(run_proxy_job(job), storage, log or logging.getLogger(__name__))
    return {**result, "label": job.label, **job.meta}


def default_workers(device: str) -> int:
    """One worker per CPU on the CPU (each single-threaded); one on a GPU (the GPU is the bottleneck)."""
    return 1 if device == "cuda" else max(1, available_cpus())


def run_proxies(jobs: list[ProxyJob], *, storage: Storage, workers: int,
                log: logging.Logger | None = None) -> list[dict]:
    """Every job's result, from the cache or freshly trained in parallel worker processes.

    Args:
        jobs: the runs; results come back in this order, each with `reused` true when cached.
        storage: the cache of results.
        workers: processes to train in (spawned: CUDA-safe).
        log: one line per finished run.
    """
    log = log or logging.getLogger(__name__)
    results: dict[str, dict] = {}
    todo = []
    for job in jobs:
        cached = _cached(job, storage)
        if cached is not None:
            results[job.key] = cached
        elif job.key not in {j.key for j in todo}:
            todo.append(job)
    if todo:
        log.info(f"training {len(todo)} proxies ({len(jobs) - len(todo)} reused from the cache) on {workers} worker(s)")
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=context) as pool:
            futures = {pool.submit(run_proxy_job, job): job for job in todo}
            for done, future in enumerate(as_completed(futures), start=1):
                result = future.result()
                results[result["key"]] = _commit(result, storage, log, progress=f"{done}/{len(todo)} ")
    return [{**results[job.key], "label": job.label, **job.meta} for job in jobs]


def job_threads(workers: int) -> int:
    return max(1, available_cpus() // max(workers, 1))


def tokenizer_folder(storage: Storage) -> str:
    return str(Path(storage.require("tokenizer")))
