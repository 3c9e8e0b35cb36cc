"""`climb eval` as a user runs it (a subprocess with no network): lm-evaluation-harness scores the verified proxy
of the optimal mixture on a configured benchmark and on a NAME=FORMAT:PATH file, offline; bad tasks and a missing
search fail in one line."""

import json
import os
import subprocess
import sys

import pytest

from climb.climblab.tokenization import load_tokenizer
from climb.search.benchmarks import load_benchmark
from climb.search.proxy_jobs import run_one
from climb.search.saved_proxies import relative_path, saved_proxy
from climb.search.targets import score_multiple_choice
from tests.climb.search.helpers_proxies import proxy_job, proxy_setup
from tests.conftest import shared_data

LIMIT = 20


def climb(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CLIMB_CONFIG", "CLIMB_HOME", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")}
    return subprocess.run([sys.executable, "-m", "climb_assets.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A storage root whose optimal mixture names its saved verification proxy."""
    setup = proxy_setup(tmp_path_factory.mktemp("cli_eval"))
    storage = setup["storage"]
    run_one(proxy_job(setup), storage=storage)
    with storage.write_partition("optimal_mixture") as writer:
        writer.write_json("optimal_mixture.json", {"weights": {"0": 0.75, "1": 0.25},
                                                   "verified_proxy": relative_path("k0")})
    return setup


def test_eval_scores_the_verified_proxy_offline(searched, tmp_path):
    """Without --model the verified proxy is scored; `piqa` comes from target.benchmarks, `arc_easy` from its file;
    the JSON holds each task's acc, acc_norm, acc_bytes and n, and piqa's acc is the project scorer's."""
    from transformers import AutoModelForCausalLM

    root, arc = searched["root"], shared_data("arc_easy", "ARC-Easy-Test.jsonl")
    out = tmp_path / "results.json"
    result = climb("eval", "--config", str(root / "climb.yaml"), "--home", str(root / "home"), "--tasks",
                   f"piqa,arc_easy=arc:{arc}", "--limit", str(LIMIT), "--device", "cpu", "--out", str(out), cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    folder = saved_proxy(searched["storage"], "k0")
    assert report["model"] == f"{searched['storage'].root}/{relative_path('k0')}" and report["device"] == "cpu"
    assert set(report["results"]) == {"piqa", "arc_easy"}
    assert all(r["n"] == LIMIT and 0 <= r["acc"] <= 1 for r in report["results"].values())
    assert f"piqa: {LIMIT} items, acc {report['results']['piqa']['acc']:.4f}" in result.stdout
    items = load_benchmark(shared_data("piqa", "valid.jsonl"), "piqa", limit=LIMIT)
    ours = score_multiple_choice(AutoModelForCausalLM.from_pretrained(folder), load_tokenizer(folder), items)
    assert abs(report["results"]["piqa"]["acc"] - ours["acc"]) <= 0.01


@pytest.mark.parametrize("tasks, home, message", [
    ("nosuch", "home", "--tasks nosuch: not a benchmark of target.benchmarks (piqa)"),
    ("x=csv:data.csv", "home", "--tasks x=csv:data.csv: expected NAME=FORMAT:PATH"),
    ("piqa", "elsewhere", "no --model and no optimal_mixture under"),
])
def test_eval_fails_in_one_line(searched, tasks, home, message):
    root = searched["root"]
    result = climb("eval", "--config", str(root / "climb.yaml"), "--home", str(root / home), "--tasks", tasks,
                   cwd=root)
    assert result.returncode == 1 and message in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_the_search_summary_names_the_verified_proxy(capsys):
    """`climb run` and `climb demo` end their summary with where the answer's verification proxy is kept."""
    from climb_assets.cli.printing import print_search

    result = {"labels": {"0": "medicine", "1": "cooking"}, "rule": "verified", "proxy_runs": 3,
              "predictor_family": "log_linear", "weights": {"0": 0.7, "1": 0.3},
              "comparison": [{"method": "climb", "weights": [0.7, 0.3], "holdout_score": -2.5}],
              "verified_proxy": relative_path("abc")}
    print_search(result, root="/data/home")
    assert capsys.readouterr().out.splitlines()[-1] == \
        "verified proxy (`climb eval` scores it): /data/home/_cache/proxy_models/abc"
