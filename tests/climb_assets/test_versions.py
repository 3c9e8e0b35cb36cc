"""Code versions: a configuration change turns exactly the assets whose output it decides stale."""

import pytest

from climb.core import load_config
from climb_assets.definitions import build_definitions

ROUNDS = [f"search/round_{r}/{name}" for r in (1, 2, 3) for name in ("candidate_mixtures", "proxy_runs", "predictor")]


def _code_versions(config) -> dict[str, str]:
    graph = build_definitions(config).resolve_asset_graph()
    return {k.to_user_string(): graph.get(k).code_version for k in graph.get_all_asset_keys()}


def _changed(section: str, **values) -> set[str]:
    config = load_config()
    edited = config.model_copy(update={section: getattr(config, section).model_copy(update=values)})
    before, after = _code_versions(config), _code_versions(edited)
    return {name for name in before if before[name] != after[name]}


@pytest.mark.parametrize("section, values, stale", [
    ("embedding", {"model": "/models/another-embedder"}, {"embeddings"}),
    ("embedding", {"max_length": 32}, {"embeddings"}),
    ("clustering", {"k_init": 7}, {"centroids"}),
    ("clustering", {"prune": "none"}, {"clusters"}),
    ("clustering", {"merge_threshold": 0.9}, {"super_clusters"}),
    ("corpus", {"normalization": "NFKC"}, {"documents"}),
    ("dedup", {"near": None}, {"documents"}),
    ("tokenizer", {"train_vocab_size": 512}, {"tokenizer"}),
    ("search", {"rounds": [8, 4, 3]}, {*ROUNDS[6:], "optimal_mixture"}),
    ("target", {"max_windows": 9}, {"target_set", *ROUNDS, "optimal_mixture"}),
    ("export", {"tokens": 123}, {"climbmix"}),
    ("proxy", {"save": "none"}, {"optimal_mixture"}),  # its JSON no longer names a verification proxy
    ("proxy", {"save": "all"}, set()),  # the rounds' proxies are kept too, but no output changes
    # where and how fast a step runs: no output changes, nothing turns stale
    ("embedding", {"batch_size": 3, "device": "cpu", "threads": 1}, set()),
    ("clustering", {"use_gpu": "never"}, set()),
    ("search", {"workers": 1}, set()),
    ("corpus", {"paths": ["elsewhere/*.jsonl"]}, set()),
])
def test_a_setting_turns_exactly_its_assets_stale(section, values, stale):
    assert _changed(section, **values) == stale


def test_every_asset_has_a_code_version():
    assert all(_code_versions(load_config()).values())
