"""lm-evaluation-harness on local benchmark files (climb.search.lm_eval_tasks): the task files carry the project's
prompts verbatim, and on a saved proxy lm-eval's accuracy agrees with the project's scorer on the same items."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from climb.climblab.tokenization import load_tokenizer
from climb.search.benchmarks import MCItem, load_benchmark
from climb.search.lm_eval_tasks import run_lm_eval, write_task
from climb.search.proxy_jobs import run_one
from climb.search.saved_proxies import saved_proxy
from climb.search.targets import score_multiple_choice
from tests.climb.search.helpers_proxies import proxy_job, proxy_setup
from tests.conftest import shared_data

ITEMS = 40  # a few dozen items: lm-eval scores them in a few seconds on the CPU


@pytest.fixture(scope="module")
def proxy_folder(tmp_path_factory):
    """A trained proxy saved by its run (run_one under proxy.save), as `climb eval` finds it."""
    setup = proxy_setup(tmp_path_factory.mktemp("lm_eval"))
    run_one(proxy_job(setup), storage=setup["storage"])
    return saved_proxy(setup["storage"], "k0")


def _read(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_a_shared_context_task_keeps_the_prompts_verbatim(tmp_path):
    """ARC items become rows {id, context, choices, gold} and a multiple_choice YAML over them with
    target_delimiter "" (the continuations keep their space) and acc, acc_norm, acc_bytes."""
    items = load_benchmark(shared_data("arc_easy", "ARC-Easy-Test.jsonl"), "arc", limit=5)
    task = yaml.safe_load(write_task(items, name="arc_easy", folder=tmp_path).read_text())
    rows = _read(tmp_path / "arc_easy.jsonl")
    assert [r["context"] for r in rows] == [i.contexts[0] for i in items]
    assert [r["choices"] for r in rows] == [list(i.continuations) for i in items]
    assert [r["gold"] for r in rows] == [i.gold for i in items]
    assert (task["doc_to_text"], task["doc_to_choice"], task["doc_to_target"]) == ("context", "choices", "gold")
    assert task["target_delimiter"] == "" and task["output_type"] == "multiple_choice"
    assert task["dataset_path"] == "json"
    assert task["dataset_kwargs"]["data_files"]["test"] == str(tmp_path / "arc_easy.jsonl")
    assert [m["metric"] for m in task["metric_list"]] == ["acc", "acc_norm", "acc_bytes"]


def test_winogrande_uses_the_multiple_input_form(tmp_path):
    """Items whose context differs by choice put the contexts in the choices and the shared rest in the target."""
    items = load_benchmark(shared_data("winogrande", "dev.jsonl"), "winogrande", limit=3)
    task = yaml.safe_load(write_task(items, name="wg", folder=tmp_path).read_text())
    rows = _read(tmp_path / "wg.jsonl")
    assert (task["doc_to_text"], task["doc_to_choice"], task["doc_to_target"]) == ("gold", "contexts", "continuation")
    assert [r["contexts"] for r in rows] == [list(i.contexts) for i in items]
    assert [r["continuation"] for r in rows] == [i.continuations[0] for i in items]


@pytest.mark.parametrize("items, name, message", [
    ([], "t", "no items"),
    ([MCItem("x", ("a", "b"), (" c", " d"), 0)], "t", "not both"),
    ([MCItem("x", ("a", "a"), (" c", " d"), 0)], "a/b", "task name"),
])
def test_write_task_rejects_what_lm_eval_cannot_score(tmp_path, items, name, message):
    with pytest.raises(ValueError, match=message):
        write_task(items, name=name, folder=tmp_path)


def test_run_lm_eval_needs_a_model_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        run_lm_eval(model=str(tmp_path), tasks={"t": [MCItem("x", ("a", "a"), (" c", " d"), 0)]}, folder=tmp_path)


def _accuracy_per_character(items, details, *, multiple_input: bool) -> float:
    """lm-eval's acc_norm from our log-likelihoods: each divided by its choice's length in characters (the
    context's, for multiple input)."""
    hits = [np.argmax(np.array(d["loglikelihoods"]) / [len(c) for c in (i.contexts if multiple_input
                                                                          else i.continuations)]) == i.gold
            for i, d in zip(items, details)]
    return float(np.mean(hits))


@pytest.mark.parametrize("fmt, parts", [("arc", ("arc_easy", "ARC-Easy-Test.jsonl")),
                                        ("winogrande", ("winogrande", "dev.jsonl"))], ids=["arc_easy", "winogrande"])
def test_lm_eval_agrees_with_the_project_scorer_on_a_saved_proxy(proxy_folder, tmp_path, fmt, parts):
    """On the same items, lm-eval (offline, from the saved folder) and score_multiple_choice give the same
    log-likelihoods (1e-4) and the same acc (within 0.01); lm-eval's acc_bytes is the project's acc_norm (per UTF-8
    byte), and its acc_norm is the same log-likelihoods per character (ARC's first 40 items hold non-ASCII choices;
    on WinoGrande lm-eval divides by each context's length, where the project's acc_norm equals acc)."""
    from transformers import AutoModelForCausalLM

    items = load_benchmark(shared_data(*parts), fmt, limit=ITEMS)
    ours = score_multiple_choice(AutoModelForCausalLM.from_pretrained(proxy_folder), load_tokenizer(proxy_folder),
                                 items, return_details=True)
    theirs = run_lm_eval(model=proxy_folder, tasks={"t": items}, folder=tmp_path, return_details=True)["t"]
    assert theirs["n"] == ITEMS and [d["id"] for d in theirs["details"]] == [i.id for i in items]
    np.testing.assert_allclose(np.concatenate([d["loglikelihoods"] for d in theirs["details"]]),
                               np.concatenate([d["loglikelihoods"] for d in ours["details"]]), rtol=0, atol=1e-4)
    assert abs(theirs["acc"] - ours["acc"]) <= 0.01
    multiple_input = fmt == "winogrande"
    assert abs(theirs["acc_norm"] - _accuracy_per_character(items, ours["details"], multiple_input=multiple_input)) \
        <= 0.01
    if multiple_input:
        assert ours["acc_norm"] == ours["acc"]
    else:
        assert abs(theirs["acc_bytes"] - ours["acc_norm"]) <= 0.01
