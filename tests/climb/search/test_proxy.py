"""Proxy LM engine (paper step 6): presets, mixture windows, training, evaluation, content keys.

Three synthetic super-clusters with disjoint vocabularies stand in for domains: cluster 0 repeats
short patterns of ids 1-50, cluster 1 of ids 200-250, cluster 2 of ids 100-150 (EOS is id 0). Models
are the tiny preset on CPU, one thread, budgets of a few thousand tokens.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest

from climb.search.proxy import (
    MIN_LR_FRACTION,
    PRESETS,
    ProxyConfig,
    build_model,
    learning_rate_at,
    llama_config,
    mean_token_loss,
    mixture_windows,
    n_parameters,
    proxy_key,
    train_proxy,
)
from climb.climblab.token_store import TokenStore, TokenStoreWriter

VOCAB = 256
RANGES = {0: (1, 50), 1: (200, 250), 2: (100, 150)}  # cluster -> inclusive id range
# 40 steps of 8 x 64 tokens: about a second on one thread, enough to learn a domain's unigrams.
SMALL = ProxyConfig(tokens=40 * 8 * 64, sequence_length=64, batch_size=8, device="cpu", threads=1)
TOY = replace(SMALL, tokens=8 * 4 * 32, sequence_length=32, batch_size=4)  # 8 steps: for "does it change"


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[int, TokenStore]:
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("stores")
    for cluster, (low, high) in RANGES.items():
        with TokenStoreWriter(str(root / str(cluster)), vocab_size=VOCAB, eos_id=0) as writer:
            for _ in range(200):  # documents: a 3-5 token pattern repeated 5-14 times
                writer.add(np.tile(rng.integers(low, high + 1, size=rng.integers(3, 6)), rng.integers(5, 15)))
    return {cluster: TokenStore(str(root / str(cluster))) for cluster in RANGES}


def cluster_of(windows: np.ndarray) -> np.ndarray:
    """Which cluster each window came from (its largest id; every window holds a non-EOS id)."""
    top = windows.max(axis=1)
    return np.select([top <= 50, top >= 200], [0, 1], default=2)


@pytest.fixture(scope="module")
def one_domain_proxies(stores):
    """Proxies trained on cluster 0 only and on cluster 1 only."""
    return {c: train_proxy(stores=stores, weights={c: 1.0}, config=SMALL, vocab_size=VOCAB) for c in (0, 1)}


def test_preset_parameter_counts():
    """tiny < 1M non-embedding (0.66M total at an 8k vocab); 62m in 50-75M and 350m in 300-400M at 32k."""
    tiny = n_parameters(llama_config(PRESETS["tiny"], vocab_size=8192))
    assert tiny["non_embedding"] < 1_000_000 and 0.6e6 < tiny["total"] < 0.7e6
    assert 50e6 <= n_parameters(llama_config(PRESETS["62m"], vocab_size=32_000))["total"] <= 75e6
    assert 300e6 <= n_parameters(llama_config(PRESETS["350m"], vocab_size=32_000))["total"] <= 400e6


def test_n_parameters_of_model_matches_config_and_counts_tied_embeddings_once():
    """Counting a built model equals counting its config; the tied output head is not counted twice."""
    model = build_model(SMALL, vocab_size=VOCAB)
    counts = n_parameters(model)
    assert counts == n_parameters(model.config)
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert counts["total"] - counts["non_embedding"] == VOCAB * PRESETS["tiny"].hidden_size


@pytest.mark.parametrize("weights, n, expected", [
    ({0: 1 / 3, 1: 2 / 3, 2: 0.0}, 10, {0: 3, 1: 7, 2: 0}),
    ({0: 0.5, 1: 0.5}, 9, {0: 5, 1: 4, 2: 0}),  # a tie in remainders goes to the lower cluster id
    ({0: 0.125, 1: 0.375, 2: 0.5}, 5, {0: 1, 1: 2, 2: 2}),  # 0.625/1.875/2.5: the two largest remainders
    ({1: 1.0}, 12, {0: 0, 1: 12, 2: 0}),
])
def test_mixture_windows_exact_counts_per_cluster(stores, weights, n, expected):
    """round(weight * n) windows per cluster by largest remainder, summing to n; weight 0 is never sampled."""
    windows = mixture_windows(stores, weights, n_windows=n, length=17, seed=0)
    assert windows.shape == (n, 17) and windows.dtype == np.int64
    counts = np.bincount(cluster_of(windows), minlength=3)
    assert dict(enumerate(counts.tolist())) == expected


def test_mixture_windows_deterministic_for_seed_and_shuffled(stores):
    """The same seed gives the same array; another seed another; clusters are interleaved, not in blocks."""
    weights = {0: 0.5, 1: 0.5}
    first = mixture_windows(stores, weights, n_windows=64, length=9, seed=7)
    assert np.array_equal(first, mixture_windows(stores, weights, n_windows=64, length=9, seed=7))
    assert not np.array_equal(first, mixture_windows(stores, weights, n_windows=64, length=9, seed=8))
    assert np.count_nonzero(np.diff(cluster_of(first))) > 10  # blocks would change cluster once


@pytest.mark.parametrize("weights, message", [
    ({0: -0.1, 1: 1.1}, ">= 0"),
    ({0: 0.5, 1: 0.4}, "sum to 1"),
    ({0: 0.5, 1: 0.5 + 2e-6}, "sum to 1"),
    ({0: 0.5, 7: 0.5}, r"without a token store: \[7\]"),
    ({}, "at least one"),
])
def test_invalid_weights_raise(stores, weights, message):
    """Negative weights, sums off 1 by more than 1e-6, weights on clusters without a store: ValueError."""
    with pytest.raises(ValueError, match=message):
        mixture_windows(stores, weights, n_windows=4, length=9, seed=0)


@pytest.mark.parametrize("changes, message", [
    ({"preset": "huge"}, "unknown proxy preset"),
    ({"tokens": 16 * 256 - 1}, "less than one batch"),
    ({"sequence_length": 4096}, "max_position"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"warmup_fraction": 1.0}, "warmup_fraction"),
    ({"threads": 0}, "threads"),
    ({"device": "tpu"}, "device must be"),
    ({"precision": "float16"}, "precision one of"),
])
def test_invalid_config_raises(changes, message):
    """Unknown presets, budgets under one batch and out-of-range settings fail when the config is made."""
    with pytest.raises(ValueError, match=message):
        ProxyConfig(**changes)


def test_learning_rate_warms_up_then_decays_to_a_tenth():
    """Linear warmup reaches the peak at the end of warmup; cosine ends at 10% of the peak on the last step."""
    rates = [learning_rate_at(s, 100, 5, 1e-3) for s in range(100)]
    assert rates[0] == pytest.approx(2e-4) and rates[4] == pytest.approx(1e-3) == max(rates)
    assert rates[-1] == pytest.approx(MIN_LR_FRACTION * 1e-3)
    assert all(a >= b for a, b in zip(rates[4:], rates[5:]))


def test_training_lowers_the_loss_and_logs_progress(stores, caplog):
    """A tiny proxy learns: its final loss is well below its first (ln 256 = 5.5 at init); progress is logged."""
    with caplog.at_level(logging.INFO, logger="climb.search.proxy"):
        model, run = train_proxy(stores=stores, weights={0: 0.5, 1: 0.5}, config=SMALL, vocab_size=VOCAB, log_every=10)
    assert run.steps == 40 and run.tokens == 40 * 8 * 64 and len(run.losses) == 40
    assert run.losses[0] > 5.0 and run.final_loss < run.losses[0] - 1.0
    assert not model.training and run.device.startswith("cpu") and run.precision == "float32"
    assert sum("proxy step" in r.message and "tokens/s" in r.message for r in caplog.records) == 4


def test_training_is_deterministic_for_a_seed(stores):
    """Same inputs and seed: identical losses and parameters; another seed: a different run."""
    runs = [train_proxy(stores=stores, weights={0: 0.3, 1: 0.7}, config=TOY, vocab_size=VOCAB) for _ in range(2)]
    (model_a, run_a), (model_b, run_b) = runs
    assert run_a.losses == run_b.losses and run_a.final_loss == run_b.final_loss
    state_b = model_b.state_dict()
    assert all(np.array_equal(t.numpy(), state_b[k].numpy()) for k, t in model_a.state_dict().items())
    _, other = train_proxy(stores=stores, weights={0: 0.3, 1: 0.7}, config=replace(TOY, seed=1), vocab_size=VOCAB)
    assert other.losses != run_a.losses


@pytest.mark.parametrize("changes", [{"learning_rate": 3e-3}, {"warmup_fraction": 0.5}, {"weight_decay": 0.0},
                                     {"precision": "bfloat16"}])
def test_training_settings_change_the_run(stores, changes):
    """learning_rate, warmup_fraction, weight_decay and precision are each read: changing one changes the run."""
    weights = {0: 0.5, 1: 0.5}
    _, base = train_proxy(stores=stores, weights=weights, config=TOY, vocab_size=VOCAB)
    _, changed = train_proxy(stores=stores, weights=weights, config=replace(TOY, **changes), vocab_size=VOCAB)
    assert changed.losses[1:] != base.losses[1:]
    if "precision" not in changes:  # the optimiser acts from the first update on
        assert changed.losses[0] == base.losses[0]


def test_proxy_prefers_the_domain_it_was_trained_on(stores, one_domain_proxies):
    """A proxy trained on cluster 0 has lower loss on cluster-0 text than one trained on cluster 1, and vice
    versa: the signal the mixture search relies on."""
    losses = {}
    for held_out in (0, 1):
        windows = mixture_windows(stores, {held_out: 1.0}, n_windows=16, length=65, seed=123)
        losses[held_out] = {c: mean_token_loss(model, windows) for c, (model, _) in one_domain_proxies.items()}
    assert losses[0][0] < losses[0][1] - 1.0
    assert losses[1][1] < losses[1][0] - 1.0


def test_mean_token_loss_does_not_depend_on_batch_size(stores, one_domain_proxies):
    """The mean over all positions is the same whatever the evaluation batch size."""
    model, _ = one_domain_proxies[0]
    windows = mixture_windows(stores, {0: 1.0}, n_windows=10, length=33, seed=5)
    assert mean_token_loss(model, windows, batch_size=3) == pytest.approx(mean_token_loss(model, windows), rel=1e-5)


def test_continues_from_a_saved_checkpoint(stores, one_domain_proxies, tmp_path):
    """init_from loads the checkpoint: the loss at step 0 equals that model's loss on the first batch."""
    model, _ = one_domain_proxies[0]
    model.save_pretrained(tmp_path / "proxy")
    config = replace(TOY, init_from=str(tmp_path / "proxy"))
    _, run = train_proxy(stores=stores, weights={0: 1.0}, config=config, vocab_size=VOCAB)
    first_batch = mixture_windows(stores, {0: 1.0}, n_windows=TOY.steps * TOY.batch_size,
                                  length=TOY.sequence_length + 1, seed=TOY.seed)[: TOY.batch_size]
    assert run.losses[0] == pytest.approx(mean_token_loss(model, first_batch), rel=1e-5)
    _, fresh = train_proxy(stores=stores, weights={0: 1.0}, config=TOY, vocab_size=VOCAB)
    assert run.losses[0] < fresh.losses[0] - 1.0  # it continued, not restarted


def test_vocabulary_mismatch_raises(stores, one_domain_proxies, tmp_path):
    """A checkpoint or a token store whose vocabulary differs from the tokenizer's is a ValueError."""
    model, _ = one_domain_proxies[0]
    model.save_pretrained(tmp_path / "proxy")
    with pytest.raises(ValueError, match="vocabulary of 256 ids, the tokenizer has 300"):
        build_model(replace(TOY, init_from=str(tmp_path / "proxy")), vocab_size=300)
    with pytest.raises(ValueError, match="proxy's vocabulary of 300"):
        train_proxy(stores=stores, weights={0: 1.0}, config=TOY, vocab_size=300)


KEY_BASE = {"weights": {0: 0.25, 1: 0.75, 2: 0.0}, "config": SMALL, "target_id": "pubmed", "data_version": "v1"}


@pytest.mark.parametrize("changes, same", [
    ({"weights": {2: 0.0, 1: 0.75, 0: 0.25}}, True),  # order of the dict
    ({"weights": {0: 0.25, 1: 0.75}}, True),  # zero weights dropped
    ({"weights": {0: 0.2500000001, 1: 0.7499999999}}, True),  # rounded to 6 decimals
    ({"config": replace(SMALL, device="auto", threads=8)}, True),  # where it runs is not what it learns
    ({"config": replace(SMALL, learning_rate=1e-2)}, True),  # None means the preset's default, 1e-2
    ({"weights": {0: 0.5, 1: 0.5}}, False),
    ({"config": replace(SMALL, tokens=SMALL.tokens * 2)}, False),
    ({"config": replace(SMALL, seed=1)}, False),
    ({"config": replace(SMALL, precision="bfloat16")}, False),
    ({"target_id": "arxiv"}, False),
    ({"data_version": "v2"}, False),
])
def test_proxy_key_is_a_content_address(changes, same):
    """proxy_key ignores weight order, zero weights, sub-1e-6 noise, device and threads; it changes with the
    mixture, budget, seed, target and data version."""
    base, changed = proxy_key(**KEY_BASE), proxy_key(**{**KEY_BASE, **changes})
    assert len(base) == 64 and int(base, 16) >= 0
    assert (changed == base) is same
