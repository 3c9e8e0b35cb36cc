"""Search stage (paper step 6): the target set, the rounds (climb_assets.search.rounds), the optimal mixture.

Each round is its own assets, round r after round r-1's predictor, so any Dagster planner runs the rounds in
order; the optimal mixture follows the last round.
"""

import dagster as dg

from climb.climblab import project_tokenizer
from climb.core import as_markdown, content_hash, markdown_table
from climb.search import choose_optimal, prepare_target, target_files_version
from climb_assets.corpus_shards import corpus_shards
from climb_assets.deployment import GPU_POOL
from climb_assets.freshness import SOURCE_VERSION
from climb_assets.search.rounds import build_round_assets, round_key
from resources import ProjectResource, ProxyTrainerResource

def _weights_markdown(weights: dict[str, float], labels: dict[str, str]) -> str:
    return markdown_table(["super-cluster", "label", "weight"],
                          [[cid, labels.get(cid, ""), f"{w:.4f}"] for cid, w in weights.items()],
                          numeric=[False, False, True])


def _mixture_text(weights: list[float], labels: list[str]) -> str:
    return ", ".join(f"{label} {w:.2f}" for label, w in zip(labels, weights) if w >= 0.01)


def _finalists_markdown(rows: list[dict], labels: list[str]) -> str:
    return markdown_table(
        ["finalist", "mixture", "predicted", "search score", "smoothed", "distance to evaluated", "chosen"],
        [[r["rule"], _mixture_text(r["weights"], labels), f"{r['predicted']:.4f}",
          "" if r["search_score"] is None else f"{r['search_score']:.4f}",
          "" if r.get("smoothed") is None else f"{r['smoothed']:.4f}", f"{r['distance_to_evaluated']:.3f}",
          "yes" if r.get("chosen", len(rows) == 1) else ""] for r in rows],
        numeric=[False, False, True, True, True, True, False])


def _comparison_markdown(rows: list[dict]) -> str:
    return markdown_table(
        ["method", "holdout score (mean over seeds)", "± std", "search score", "predicted", "proxy runs"],
        [[r["method"], f"{r['holdout_score']:.4f}", f"{r['holdout_std']:.3f}", f"{r['search_score']:.4f}",
          f"{r['predicted']:.4f}", r["proxy_runs"]] for r in rows], numeric=[False, True, True, True, True, True])


def build_search_assets(rounds: list[int], *, gpu_op_tags: dict | None = None) -> list:
    """The search: the target set, one asset triple per round of `search.rounds` (climb_assets.search.rounds),
    and the optimal mixture after the last round's predictor.

    `gpu_op_tags` (climb_assets.deployment.gpu_op_tags) give the proxy-training steps their Kubernetes
    GPU pod; None leaves them without pod settings.
    """
    @dg.asset(group_name="search", kinds={"numpy", "parquet"}, deps=["tokenizer", "documents"])
    def target_set(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
        """The search target, tokenized and split: target text windows and benchmark items, with a
        held-apart split (`target.holdout_fraction`) that only verification ever sees. The training documents
        that overlap a target document of either split (`dedup.contamination`) are listed in
        `contaminated.parquet`; ClimbLab leaves them out, so no proxy trains on what it is scored on."""
        config, storage = project.config(), project.storage()
        shard_keys = corpus_shards(context, storage, needs=("documents",))
        try:
            info = prepare_target(storage=storage, config=config, tokenizer=project_tokenizer(storage),
                                  shard_keys=shard_keys)
        except ValueError as err:
            raise dg.Failure(description=str(err)) from err
        removed = info["contamination"]["documents"]
        context.log.info(f"target set {info['target_id']}: {sum(removed.values()):,} training documents overlap "
                         f"the target ({', '.join(f'{n:,} {split}' for split, n in removed.items())})")
        # The data version is the content digest (windows and items) and the documents removed, which ClimbLab
        # reads; `source_version` lets `climb run` see an edited target file (climb_assets/freshness.py).
        version = content_hash([info["target_id"], info["contamination"]["id"]], length=32)
        return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={
            "target_id": info["target_id"], "parts": dg.MetadataValue.json(info["parts"]),
            SOURCE_VERSION: target_files_version(config),
            **{name: value for name, value in info["sizes"].items()},
            "contaminated_documents": sum(removed.values()),
            **{f"contaminated_{split}_documents": n for split, n in removed.items()},
            "decontamination": dg.MetadataValue.json(info["contamination"]["settings"] or {"off": True}),
            "path": dg.MetadataValue.path(info["path"])})

    round_assets = build_round_assets(rounds, first_deps=["climblab", target_set], gpu_op_tags=gpu_op_tags)
    last_predictor = round_key(len(rounds), "predictor")

    @dg.asset(group_name="search", kinds={"pytorch"}, deps=[last_predictor], pool=GPU_POOL,
              op_tags=gpu_op_tags, automation_condition=dg.AutomationCondition.eager())
    def optimal_mixture(context: dg.AssetExecutionContext, project: ProjectResource,
                        proxy_trainer: ProxyTrainerResource) -> dg.MaterializeResult:
        """The search's answer under `search.final` (argmax, topk_mean, regularised, or verified: finalists
        trained on the search split compete with the best evaluated run), verified by a proxy on the held-apart
        target beside the baselines trained and scored the same way: uniform, token-proportional (the paper's
        "Random"), the best evaluated candidate (Best@N) and RegMix one-shot at the same proxy budget.
        `finalists` lists each finalist's predicted and search scores and its distance to the nearest evaluated
        mixture. `verified_proxy` is the answer's verification proxy, a Hugging Face checkpoint that `climb eval`
        scores with lm-evaluation-harness (kept under `proxy.save: verification` or `all`)."""
        config, storage = proxy_trainer.configure(project.config()), project.storage()
        result = choose_optimal(storage=storage, config=config, log=context.log)
        labels = result["labels"]
        context.log.info(f"optimal mixture ({result['rule']}): " + ", ".join(
            f"{labels[cid]} {w:.2f}" for cid, w in result["weights"].items() if w >= 0.01))
        return dg.MaterializeResult(metadata={
            "weights": dg.MetadataValue.json(result["weights"]),
            "weights_table": dg.MetadataValue.md(_weights_markdown(result["weights"], labels)),
            "rule": result["rule"], "proxy_runs": result["proxy_runs"],
            "distance_to_evaluated": result["distance_to_evaluated"],
            "predicted_score": round(result["predicted_score"], 4),
            "observed_holdout_score": round(result["observed_holdout_score"], 4),
            "predictor_family": result["predictor_family"],
            "finalists": dg.MetadataValue.md(_finalists_markdown(result["finalists"], list(labels.values()))),
            "baselines": dg.MetadataValue.md(_comparison_markdown(result["comparison"])),
            "comparison": dg.MetadataValue.json(result["comparison"]),
            "weights_per_round": dg.MetadataValue.md(as_markdown(result["weights_png"], "weights per round")),
            "predicted_vs_observed": dg.MetadataValue.md(as_markdown(result["scatter_png"], "predicted vs observed")),
            "path": dg.MetadataValue.path(result["path"]),
            **({"verified_proxy": dg.MetadataValue.path(result["verified_proxy_path"])}
               if result["verified_proxy_path"] else {})})

    return [target_set, *round_assets, optimal_mixture]
