"""Saved proxies (climb.search.saved_proxies): `proxy.save` decides which runs keep a checkpoint; a kept proxy is a
Hugging Face folder that AutoModelForCausalLM and AutoTokenizer load, scoring exactly what the run scored; a cached
run without its checkpoint is trained again to save it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from climb.climblab.tokenization import load_tokenizer
from climb.core.config import ConfigError, load_config
from climb.search.optimal import verify_mixtures
from climb.search.proxy_jobs import CACHE, run_one
from climb.search.round_runs import make_jobs
from climb.search.rounds import search_space
from climb.search.saved_proxies import MODELS, RECORD, relative_path, saved_proxy, saves
from climb.search.target_set import load_target
from climb.search.targets import score_multiple_choice
from tests.climb.search.helpers_proxies import commit_search_inputs, proxy_job, proxy_setup
from tests.climb.search.helpers_search import make_config, write_climblab


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    return proxy_setup(tmp_path_factory.mktemp("saved_proxies"))


@pytest.mark.parametrize("setting, verification, expected", [
    ("none", True, False), ("none", False, False),
    ("verification", True, True), ("verification", False, False),
    ("all", True, True), ("all", False, True),
])
def test_saves_follows_the_setting(setting, verification, expected):
    """verification keeps only the verification runs' proxies, all keeps every run's, none keeps none."""
    assert saves(setting, verification=verification) is expected


def test_saves_rejects_an_unknown_setting():
    with pytest.raises(ValueError, match="proxy.save 'some'"):
        saves("some", verification=True)


def test_the_configuration_defaults_to_verification_and_rejects_other_values(tmp_path):
    """proxy.save: verification unless set; a value outside none | verification | all is a configuration error."""
    (tmp_path / "a.yaml").write_text("corpus: {paths: ['*.jsonl']}\n")
    (tmp_path / "b.yaml").write_text("corpus: {paths: ['*.jsonl']}\nproxy: {save: every}\n")
    assert load_config(tmp_path / "a.yaml", home=str(tmp_path / "home")).proxy.save == "verification"
    with pytest.raises(ConfigError, match="save"):
        load_config(tmp_path / "b.yaml", home=str(tmp_path / "home"))


@pytest.mark.parametrize("setting, verification, keeps", [
    ("verification", True, True), ("verification", False, False), ("all", False, True), ("none", True, False),
])
def test_make_jobs_passes_the_setting_to_every_job(tmp_path, storage, setting, verification, keeps):
    """The search's jobs carry the storage root to save in exactly when proxy.save asks for their kind of run."""
    write_climblab(storage)
    with storage.write_partition("target_set") as writer:
        writer.write_json("target.json", {"target_id": "t", "parts": [{"name": "text"}]})
    config = make_config(tmp_path)
    config = config.model_copy(update={"proxy": config.proxy.model_copy(update={"save": setting})})
    space = search_space(storage)
    jobs = make_jobs(np.full((2, 3), 1 / 3), ["a", "b"], storage=storage, config=config, space=space, workers=1,
                     verification=verification)
    assert [job.save_root for job in jobs] == [storage.root if keeps else None] * 2


def test_a_saved_proxy_loads_with_the_auto_classes_and_scores_what_the_run_scored(setup):
    """run_one commits `_cache/proxy_models/<key>/` (weights, config, tokenizer, proxy.json, manifest last);
    AutoModelForCausalLM and AutoTokenizer load it, the tokenizer encodes as ClimbLab's does, and the loaded
    model's holdout PIQA accuracy is the run's."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    storage = setup["storage"]
    result = run_one(proxy_job(setup, key="saved"), storage=storage)
    folder = saved_proxy(storage, "saved")
    assert folder == storage.uri(f"{storage.root}/{relative_path('saved')}")
    files = {p.name for p in Path(folder).iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", RECORD,
            "_manifest.json"} <= files
    record = json.loads((Path(folder) / RECORD).read_text())
    assert record["key"] == "saved" and record["proxy"]["tokens"] == 8192
    assert record["holdout_score"] == result["holdout_score"]

    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    text = "Stir 12 grams of flour into the warm sauce."
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == load_tokenizer(folder).encode(text).ids
    assert tokenizer.eos_token == "<|endoftext|>"
    items = load_target(storage.require("target_set"), "holdout").benchmarks["piqa"]
    scored = score_multiple_choice(model, load_tokenizer(folder), items)
    assert scored["acc"] == result["holdout_metrics"]["piqa_acc"]


def test_a_cached_run_without_its_checkpoint_is_trained_again_to_save_it(setup):
    """A run cached by a search that kept nothing is retrained once when a verification wants its proxy, with
    the same scores (CPU runs are deterministic); after that it is a cache hit with the checkpoint in place."""
    storage = setup["storage"]
    first = run_one(proxy_job(setup, key="later", save=False), storage=storage)
    assert not first["reused"] and saved_proxy(storage, "later") is None
    assert run_one(proxy_job(setup, key="later", save=False), storage=storage)["reused"]
    again = run_one(proxy_job(setup, key="later"), storage=storage)
    assert not again["reused"] and saved_proxy(storage, "later") is not None
    assert again["search_score"] == first["search_score"] and again["holdout_score"] == first["holdout_score"]
    assert run_one(proxy_job(setup, key="later"), storage=storage)["reused"]
    assert storage.read_cache_json(CACHE, "later")["key"] == "later"
    assert Path(saved_proxy(storage, "later")).parent.name == MODELS


def test_verification_keeps_each_methods_proxy_and_names_it(setup):
    """Verifying a mixture (as optimal_mixture verifies its answer and baselines) under the default proxy.save
    trains its proxy in a worker process, keeps the checkpoint and names it relative to the storage root."""
    from transformers import AutoModelForCausalLM

    commit_search_inputs(setup)
    storage = setup["storage"]
    verified = verify_mixtures(storage=storage, config=setup["config"], mixtures={"blend": {0: 0.5, 1: 0.5}})
    [relative] = verified["blend"]["proxies"]
    assert relative.startswith(f"_cache/{MODELS}/")
    folder = Path(storage.root) / relative
    assert saved_proxy(storage, folder.name) == str(folder)
    assert json.loads((folder / RECORD).read_text())["weights"] == {"0": 0.5, "1": 0.5}
    assert AutoModelForCausalLM.from_pretrained(folder).num_parameters() > 0
