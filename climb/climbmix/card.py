"""The dataset card (README.md) of a ClimbMix export: what it holds, how it was made, how to check it.

The YAML front matter is the Hub's dataset card metadata: `license` (export.license; left out when unset, so
the card claims none: "other" would declare a custom license, and guessing one is not ours to do), `language`,
`size_categories` (the Hub's bin of the document count), `task_categories: [text-generation]`, and `configs`
naming the Parquet files as the `default` config (and the tokenized JSONL as `tokenized`), so
`datasets.load_dataset(<export folder>)` loads the Parquet files without arguments, as does
`load_dataset("parquet", data_dir=<export>/parquet)`.
The checksums block is in `sha256sum` format: `sha256sum -c` on it, from the export folder, checks every file.
"""

from __future__ import annotations

import json
import re

import yaml

from climb.core.tables import markdown_table

CHECKSUM_LINE = re.compile(r"^([0-9a-f]{64})  (\S.*)$", re.MULTILINE)
# The Hub's size_categories bins, by number of rows (documents): (exclusive upper bound, name); above all: n>1T.
SIZE_CATEGORIES = ((10**3, "n<1K"), (10**4, "1K<n<10K"), (10**5, "10K<n<100K"), (10**6, "100K<n<1M"),
                   (10**7, "1M<n<10M"), (10**8, "10M<n<100M"), (10**9, "100M<n<1B"), (10**10, "1B<n<10B"),
                   (10**11, "10B<n<100B"), (10**12, "100B<n<1T"))
PAPER = ("CLIMB: CLustering-based Iterative Data Mixture Bootstrapping for Language Model Pre-training, "
         "arXiv 2504.13161")


def card_checksums(card: str) -> dict[str, str]:
    """File name -> sha256 from a card's checksums block."""
    return {name: sha for sha, name in CHECKSUM_LINE.findall(card)}


def size_category(rows: int) -> str:
    """The Hub's size_categories value for a dataset of `rows` rows."""
    return next((name for bound, name in SIZE_CATEGORIES if rows < bound), "n>1T")


def _front_matter(summary: dict) -> str:
    configs = []
    if summary["outputs"].get("parquet"):
        configs.append({"config_name": "default", "data_files": [{"split": "train", "path": "parquet/*.parquet"}]})
    if summary["outputs"].get("jsonl"):
        configs.append({"config_name": "tokenized",
                        "data_files": [{"split": "train", "path": "jsonl/*.tokenized.jsonl"}]})
    settings = summary["settings"]
    meta = {"pretty_name": "ClimbMix export", "language": list(settings["language"]),
            "size_categories": [size_category(summary["totals"]["documents"])],
            "task_categories": ["text-generation"], "tags": ["climb", "climbmix", "data-mixture"], "configs": configs}
    if settings["license"]:
        meta["license"] = settings["license"]
    return "---\n" + yaml.safe_dump(meta, sort_keys=True) + "---\n"


def _cluster_table(rows: list[dict]) -> str:
    return markdown_table(
        ["super-cluster", "label", "optimal weight", "realised weight", "tokens", "documents", "epochs",
         "available tokens", "shortfall", "limit"],
        [[r["cluster_id"], r["label"], f"{r['weight']:.4f}", f"{r['realised_weight']:.4f}", f"{r['tokens']:,}",
          f"{r['documents']:,}", f"{r['epochs']:.2f}", f"{r['available_tokens']:,}", f"{r['shortfall']:,}",
          r["limit"] or ""] for r in rows],
        numeric=[True, False, True, True, True, True, True, True, True, False])


def _formats(summary: dict) -> str:
    outputs, parts = summary["outputs"], []
    if outputs.get("parquet"):
        parts.append(f"- **Parquet** (`parquet/`, {len(outputs['parquet'])} file(s)): `text`, `cluster_id`, "
                     "`token_count`, every drawn document in one seeded shuffled order.\n"
                     "  `datasets.load_dataset(\"parquet\", data_dir=\"<this folder>/parquet\")`")
    if outputs.get("jsonl"):
        parts.append(f"- **Tokenized JSONL** (`jsonl/part_*.tokenized.jsonl`, {len(outputs['jsonl'])} file(s)): "
                     "`cluster_id`, `tokens`, `token_count` per line (the released ClimbMix layout), ids of the "
                     "tokenizer below without special tokens, in the same order as the Parquet files.")
    if outputs.get("megatron"):
        blend = outputs["megatron"]
        parts.append("- **Megatron-LM indexed datasets** (`megatron/cluster_<k>_text_document.bin/.idx`, "
                     "MMIDIDX version 1, one sequence per document ending with the end-of-text id): one per "
                     "super-cluster, weighted by realised token share (`megatron/blend.json`). From this folder:\n"
                     f"  `--data-path {blend['data_path']}`")
    return "\n".join(parts)


def _tokenizer_lines(summary: dict) -> str:
    tokenizer, own = summary["tokenizer"], summary["settings"]["tokenizer"] is None
    eos = f" (`{tokenizer['eos_token']}`)" if tokenizer.get("eos_token") else ""
    sha = f"`{tokenizer['sha256']}`" if tokenizer.get("sha256") else "not recorded"
    exported = tokenizer.get("exported_tokens", {})
    held = (f"the tokenized files hold {sum(exported.values()):,} tokens of this tokenizer (special tokens excluded)"
            if exported else "no tokenized files were written")
    whose = "ClimbLab's and the proxies' own" if own else "chosen for the export, not the proxies' own"
    return (f"- tokenizer of the tokenized JSONL and Megatron files: `{tokenizer['source']}` ({whose}), "
            f"vocabulary {tokenizer['vocab_size']:,}, end-of-document id {tokenizer['eos_id']}{eos}; sha256 of its "
            f"files {sha}\n- token counts: the budget and the table count ClimbLab's tokens, which drive the "
            f"sampling; {held}")


def render_card(summary: dict, *, summary_sha256: str) -> str:
    """The card's markdown.

    Args:
        summary: the export's climbmix.json content (climb.climbmix.export.write_export).
        summary_sha256: climbmix.json's checksum (listed with the data files').
    """
    settings, totals = summary["settings"], summary["totals"]
    shortfalls = "\n".join(f"- {w}" for w in summary["warnings"]) or "- none: every cluster met its target"
    checksums = "\n".join(f"{f['sha256']}  {name}" for name, f in sorted(summary["files"].items()))
    checksums += f"\n{summary_sha256}  climbmix.json"
    provenance = summary["optimal_mixture"]
    score = provenance.get("observed_holdout_score")
    score = f"{score:.4f}" if isinstance(score, (int, float)) else "not recorded"
    return f"""{_front_matter(summary)}
# ClimbMix export

Documents sampled from ClimbLab's super-clusters at the optimal mixture that CLIMB's iterative search found
({PAPER}), up to a budget of {totals['budget']:,} tokens.

**{totals['tokens']:,} tokens in {totals['documents']:,} documents** ({totals['budget_error'] * 100:+.2f}% of the
budget). Whole documents only; a super-cluster short of tokens repeats at most {settings['max_epochs']} times
(epochs), and what it still lacks is listed under shortfalls, never taken from other super-clusters.

- seed: {settings['seed']} (same seed and inputs: byte-identical files)
{_tokenizer_lines(summary)}
- license: {settings['license'] or 'not stated (export.license)'}
- optimal mixture: predictor `{provenance.get('predictor_family')}`, observed holdout score {score}

## Super-clusters

{_cluster_table(summary['clusters'])}

## Shortfalls and warnings

{shortfalls}

## Files

{_formats(summary)}

## Configuration

Export settings:

```json
{json.dumps(settings, indent=2, sort_keys=True)}
```

<details><summary>Project configuration</summary>

```json
{json.dumps(summary['config'], indent=2, sort_keys=True)}
```

</details>

## Checksums (sha256)

```text
{checksums}
```
"""
