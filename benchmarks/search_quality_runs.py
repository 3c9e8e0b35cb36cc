"""Proxy runs for benchmarks/search_quality.py: one training scored on several targets, cached, scheduled.

Training a proxy does not depend on the target, so a job trains once and scores every target it names
(mean next-token loss on each target's search and holdout windows; score = -loss). Results are
content-addressed like the pipeline's (climb.search.proxy.proxy_key over mixture, proxy settings and data
version; target "multi") in <cache>/runs/<key>.json, with scores merged per target id, so a mixture trained
for one method, seed and target is never trained again for another.

The scheduler keeps a spawn pool of single-threaded workers busy: methods hand it their next jobs as
soon as they can, and the deepest step of any search goes first, so searches finish instead of piling up; a few
spare jobs wait in the pool so the workers keep training while the main process fits a predictor.

DoReMi (Xie et al. 2023, "DoReMi: Optimizing Data Mixtures Speeds Up Language Model Pretraining", Alg. 1):
a reference proxy trained on uniform domain weights, then a proxy trained by group DRO: each step samples a
batch by the reference weights, computes every domain's excess loss max(loss - reference loss, 0) per token,
updates the domain weights alpha <- softmax(log alpha + eta * excess), smooths them (1 - c) alpha + c u,
and minimises the alpha-weighted per-domain loss. The answer is alpha averaged over the steps. Domains
are the super-clusters; eta = 1 and c = 1e-3 are the paper's.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import multiprocessing
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from climb.search.proxy import ProxyConfig, proxy_key

log = logging.getLogger(__name__)
MULTI_TARGET = "multi-target/1"  # proxy_key's target_id: scores for any number of targets share one training
DOREMI_STEP_SIZE = 1.0  # paper: eta = 1
DOREMI_SMOOTHING = 1e-3  # paper: c = 1e-3
IN_FLIGHT_SPARE = 6  # jobs handed to the pool beyond one per worker (a fit in the main process takes seconds)
DOREMI_STREAM = 3  # the DRO batches use default_rng((seed, 3)), apart from the proxies' window draws


@dataclass(frozen=True)
class Job:
    kind: str  # "proxy" (train on weights, score targets) | "doremi" (DoReMi's averaged domain weights)
    weights: dict[int, float]  # cluster id -> weight (doremi: the reference weights)
    store_folders: dict[int, str]
    vocab_size: int
    proxy: ProxyConfig
    data_version: str
    targets: dict[str, str]  # target id -> folder with search.npy / holdout.npy (doremi: none)
    label: str = ""

    @property
    def key(self) -> str:
        if self.kind == "proxy":
            return proxy_key(weights=self.weights, config=self.proxy, target_id=MULTI_TARGET,
                             data_version=self.data_version)
        payload = {"kind": self.kind, "reference": sorted(self.weights.items()), "proxy": asdict(self.proxy),
                   "data_version": self.data_version, "eta": DOREMI_STEP_SIZE, "c": DOREMI_SMOOTHING}
        payload["proxy"].pop("threads")
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def doremi_weights(stores: dict, reference_weights: dict[int, float], config: ProxyConfig, vocab_size: int) -> dict:
    """DoReMi's averaged domain weights (module docstring), with the reference run's training summary."""
    import torch
    import torch.nn.functional as F

    from climb.search.proxy import GRAD_CLIP, build_model, configure_optimizer, learning_rate_at, train_proxy

    ids = sorted(stores)
    reference, ref_training = train_proxy(stores=stores, weights=reference_weights, config=config,
                                          vocab_size=vocab_size)
    model = build_model(config, vocab_size=vocab_size).train()
    optimizer = configure_optimizer(model, config)
    B, T, steps = config.batch_size, config.sequence_length, config.steps
    warmup = max(1, round(config.warmup_fraction * steps))
    rng = np.random.default_rng((config.seed, DOREMI_STREAM))
    sampling = np.array([reference_weights.get(c, 0.0) for c in ids])
    uniform = np.full(len(ids), 1 / len(ids))
    log_alpha, history = np.log(uniform), []

    def token_losses(m, batch):  # (B, T) next-token cross-entropy
        logits = m(input_ids=batch[:, :-1], use_cache=False).logits
        targets = batch[:, 1:]
        return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction="none").view(targets.shape)

    for step in range(steps):
        domains = rng.choice(len(ids), size=B, p=sampling)  # (B,)
        batch = torch.from_numpy(np.concatenate([stores[ids[d]].sample_windows(1, T + 1, rng) for d in domains]))
        losses = token_losses(model, batch)  # (B, T)
        with torch.no_grad():
            excess = (losses.detach() - token_losses(reference, batch)).clamp(min=0).mean(dim=1).numpy()  # (B,)
        per_domain = np.array([excess[domains == d].mean() if (domains == d).any() else 0.0 for d in range(len(ids))])
        alpha = np.exp(log_alpha + DOREMI_STEP_SIZE * per_domain - (log_alpha + DOREMI_STEP_SIZE * per_domain).max())
        alpha = (1 - DOREMI_SMOOTHING) * alpha / alpha.sum() + DOREMI_SMOOTHING * uniform
        log_alpha = np.log(alpha)
        history.append(alpha)
        present = torch.as_tensor(domains)
        domain_loss = torch.zeros(len(ids)).index_add(0, present, losses.mean(dim=1))
        counts = torch.bincount(present, minlength=len(ids)).clamp(min=1)
        loss = (torch.as_tensor(alpha, dtype=torch.float32) * domain_loss / counts).sum()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, steps, warmup, config.peak_learning_rate)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    average = np.mean(history, axis=0)
    return {"doremi_weights": {str(c): float(w) for c, w in zip(ids, average)},
            "final_alpha": {str(c): float(w) for c, w in zip(ids, history[-1])},
            "reference_final_loss": ref_training.final_loss}


def run_job(job: Job) -> dict:
    """Train and score one job (in a worker process: everything is read from disk)."""
    import time

    from climb.search.proxy import mean_token_loss, train_proxy
    from climb.climblab.token_store import TokenStore

    started = time.perf_counter()
    weights = {c: w for c, w in job.weights.items() if w > 0}
    stores = {c: TokenStore(job.store_folders[c]) for c in (job.store_folders if job.kind == "doremi" else weights)}
    result = {"key": job.key, "kind": job.kind, "label": job.label, "weights": {str(c): w for c, w in weights.items()}}
    if job.kind == "doremi":
        result.update(doremi_weights(stores, job.weights, job.proxy, job.vocab_size))
    else:
        model, training = train_proxy(stores=stores, weights=weights, config=job.proxy, vocab_size=job.vocab_size)
        result["training"] = {"tokens": training.tokens, "steps": training.steps, "final_loss": training.final_loss,
                              "tokens_per_second": round(training.tokens_per_second, 1)}
        result["scores"] = {tid: {split: -mean_token_loss(model, np.load(Path(folder, f"{split}.npy")), device="cpu")
                                  for split in ("search", "holdout")} for tid, folder in job.targets.items()}
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


class Scheduler:
    """Runs jobs on a spawn pool, reusing cached results; `submit` calls back when all of a group is done.

    Args:
        cache: folder of <key>.json results.
        workers: processes (one thread each).
    """

    def __init__(self, cache: Path, workers: int):
        self.cache, self.workers = cache / "runs", workers
        self.cache.mkdir(parents=True, exist_ok=True)
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        self.queue: list = []  # (priority, order, job)
        self.running: dict = {}  # future -> job
        self.waiters: dict[tuple, list] = {}  # (key, target ids) -> [group]
        self.order, self.trained, self.reused, self.seconds = 0, 0, 0, 0.0

    def _cached(self, job: Job) -> dict | None:
        path = self.cache / f"{job.key}.json"
        if not path.exists():
            return None
        result = json.loads(path.read_text())
        return result if set(job.targets) <= set(result.get("scores", {})) else None

    def _store(self, result: dict) -> None:
        path = self.cache / f"{result['key']}.json"
        if path.exists() and "scores" in result:  # merge the scores of targets trained for before
            result = {**result, "scores": {**json.loads(path.read_text()).get("scores", {}), **result["scores"]}}
        temporary = path.with_suffix(f".tmp-{uuid.uuid4().hex}")
        temporary.write_text(json.dumps(result, indent=1, sort_keys=True))
        temporary.replace(path)

    def submit(self, jobs: list[Job], priority: int, done: Callable[[list[dict]], None]) -> None:
        """Run `jobs` (highest priority first) and call `done(results)` in job order once all are in."""
        group = {"jobs": jobs, "results": [None] * len(jobs), "left": len(jobs), "done": done}
        if not jobs:
            done([])
        for i, job in enumerate(jobs):
            cached = self._cached(job)
            if cached is not None:
                self.reused += 1
                self._deliver(group, i, cached)
                continue
            slot = (job.key, tuple(sorted(job.targets)))
            if slot not in self.waiters:
                self.waiters[slot] = []
                heapq.heappush(self.queue, (-priority, self.order, job))
                self.order += 1
            self.waiters[slot].append((group, i))

    def _deliver(self, group: dict, index: int, result: dict) -> None:
        group["results"][index] = result
        group["left"] -= 1
        if group["left"] == 0:
            group["done"](group["results"])

    def run(self, on_progress: Callable[[], None] | None = None) -> None:
        """Until no job is queued or running (callbacks may submit more); `on_progress` after each finished job."""
        while self.queue or self.running:
            # Spares in flight keep the workers training while this process fits predictors in a callback.
            while self.queue and len(self.running) < self.workers + IN_FLIGHT_SPARE:
                _, _, job = heapq.heappop(self.queue)
                self.running[self.pool.submit(run_job, job)] = job
            finished, _ = wait(list(self.running), return_when=FIRST_COMPLETED)
            for future in finished:
                job = self.running.pop(future)
                result = future.result()
                self._store(result)
                self.trained += 1
                self.seconds += result["seconds"]
                log.info(f"[{self.trained} trained, {self.reused} reused, {len(self.queue)} queued] {job.label}: "
                         f"{result['seconds']:.1f} s")
                for group, index in self.waiters.pop((job.key, tuple(sorted(job.targets)))):
                    self._deliver(group, index, result)
            if on_progress is not None:
                on_progress()

    def close(self) -> None:
        self.pool.shutdown()
