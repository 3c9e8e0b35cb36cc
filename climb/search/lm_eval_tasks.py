"""lm-evaluation-harness on local benchmark files, offline: a saved proxy (or any causal LM folder) scored by the
evaluation tool people publish numbers with (`climb eval`; docs/method.md, step 6).

`write_task` turns the items of a benchmark file (climb.search.benchmarks: PIQA, ARC, HellaSwag, WinoGrande, the
mosaic JSONL, MMLU) into `<name>.jsonl` and a task `<name>.yaml` that lm-eval loads with `dataset_path: json`.
Each row holds the item's prompts exactly as the project's scorer builds them, and the YAML takes them verbatim
(`target_delimiter: ""`: the continuations keep their leading space), so lm-eval scores the same (context,
continuation) pairs as climb.search.targets.score_multiple_choice. Items sharing one context put their choices in
the continuation; WinoGrande, whose context differs by choice, uses lm-eval's multiple-input form (the contexts are
the choices, the shared rest of the sentence is the target).

Metrics, against the project's scorer on the same items:
- acc: the same rule (argmax of summed log-likelihoods);
- acc_bytes: lm-eval's log-likelihood per UTF-8 byte of the choice, the project's acc_norm;
- acc_norm: lm-eval's per character; it differs from the project's acc_norm only on non-ASCII choices (and on
  multiple-input tasks, where lm-eval divides by the length of each context and the project's equals acc).
One difference remains in the encoding: lm-eval encodes context + continuation whole and splits the ids, the
project encodes them apart; a byte-level BPE splits words at the space between them, so the ids agree.

Nothing is downloaded: HF_DATASETS_OFFLINE and HF_HUB_OFFLINE are set before lm-eval and datasets load, the data
is the written JSONL, and the model and tokenizer are read from the folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from climb.search.benchmarks import MCItem

METRICS = ("acc", "acc_norm", "acc_bytes")
OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
TASK_VERSION = 1  # bump when the rows or the YAML change what is scored


def _rows(items: Sequence[MCItem]) -> tuple[list[dict], bool]:
    """(JSONL rows, multiple_input): the items as lm-eval documents; multiple input when any context differs."""
    multiple_input = any(len(set(item.contexts)) > 1 for item in items)
    rows = []
    for item in items:
        if not multiple_input:
            rows.append({"id": item.id, "context": item.contexts[0], "choices": list(item.continuations),
                         "gold": item.gold})
            continue
        if len(set(item.continuations)) > 1:
            raise ValueError(f"item {item.id}: lm-eval scores either one context with several continuations or "
                             f"several contexts with one continuation, not both")
        rows.append({"id": item.id, "contexts": list(item.contexts), "continuation": item.continuations[0],
                     "gold": item.gold})
    return rows, multiple_input


def write_task(items: Sequence[MCItem], *, name: str, folder: str | Path) -> Path:
    """Write `<folder>/<name>.jsonl` and the lm-eval task `<folder>/<name>.yaml`; returns the YAML's path.

    Args:
        items: the benchmark's items (climb.search.benchmarks.load_benchmark); at least one.
        name: the task's name in lm-eval (letters, digits, _ and -), unique within a folder.
        folder: where both files go (created when missing); lm-eval's `include_path`.
    """
    if not items:
        raise ValueError(f"task {name!r} has no items")
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        raise ValueError(f"task name {name!r}: use letters, digits, '_' and '-'")
    out = Path(folder).resolve()
    out.mkdir(parents=True, exist_ok=True)
    rows, multiple_input = _rows(items)
    data = out / f"{name}.jsonl"
    data.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    fields = ({"doc_to_text": "gold", "doc_to_choice": "contexts", "doc_to_target": "continuation"}
              if multiple_input else {"doc_to_text": "context", "doc_to_choice": "choices", "doc_to_target": "gold"})
    task = {"task": name, "dataset_path": "json", "test_split": "test", "output_type": "multiple_choice",
            # cache_dir: datasets' Arrow copy of the JSONL stays beside it, not in the user's home
            "dataset_kwargs": {"data_files": {"test": str(data)}, "cache_dir": str(out / "datasets_cache")},
            **fields, "target_delimiter": "",
            "metric_list": [{"metric": m, "aggregation": "mean", "higher_is_better": True} for m in METRICS],
            "metadata": {"version": TASK_VERSION}}
    path = out / f"{name}.yaml"
    path.write_text(yaml.safe_dump(task, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _details(samples: list[dict]) -> list[dict]:
    """Per item, in task order: id, gold and lm-eval's log-likelihood of each choice."""
    ordered = sorted(samples, key=lambda s: s["doc_id"])
    return [{"id": s["doc"]["id"], "gold": s["doc"]["gold"], "loglikelihoods": [float(r[0][0]) for r in s["resps"]]}
            for s in ordered]


def run_lm_eval(*, model: str, tasks: Mapping[str, Sequence[MCItem]], folder: str | Path, device: str = "cpu",
                batch_size: int = 16, return_details: bool = False) -> dict[str, dict]:
    """Score a causal LM folder with lm-evaluation-harness on local tasks, offline: {task: {acc, acc_norm,
    acc_bytes, n}} (+ "details", per item: id, gold, loglikelihoods, on request).

    Args:
        model: a folder that AutoModelForCausalLM and AutoTokenizer load (a saved proxy:
            climb.search.saved_proxies), read in float32.
        tasks: task name -> its items; each is written by write_task.
        folder: where the task files go.
        device: "cpu" or "cuda" (climb.core.device).
        batch_size: lm-eval's batch size (requests per forward pass).
        return_details: add each item's log-likelihoods (lm-eval's logged samples).
    """
    if not tasks:
        raise ValueError("no task to evaluate")
    if not (Path(model) / "config.json").is_file():
        raise FileNotFoundError(f"{model} is not a model folder (no config.json): pass a saved proxy's folder")
    for name, items in tasks.items():
        write_task(items, name=name, folder=folder)
    os.environ.update(OFFLINE)  # before datasets and huggingface_hub read them at import
    import lm_eval
    from lm_eval.tasks import TaskManager

    output = lm_eval.simple_evaluate(
        model="hf", model_args={"pretrained": str(Path(model).resolve()), "dtype": "float32"}, tasks=list(tasks),
        task_manager=TaskManager(include_path=str(Path(folder).resolve()), include_defaults=False),
        device=device, batch_size=batch_size, log_samples=return_details)
    results = {}
    for name in tasks:
        found = output["results"][name]
        results[name] = {metric: float(found[f"{metric},none"]) for metric in METRICS}
        results[name]["n"] = int(output["n-samples"][name]["effective"])
        if return_details:
            results[name]["details"] = _details(output["samples"][name])
    return results
