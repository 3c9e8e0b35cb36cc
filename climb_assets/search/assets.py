"""Search stage (paper step 6): rounds of candidate mixtures, proxy runs and a predictor; the optimal mixture.

Rounds are partitions ("1", "2", ...): materialise round 1, look at it, then round 2 — or let
`climb run` (or the search_rounds sensor) drive them all. A round reads the rounds before it
(their predictor and runs) from storage, since an asset cannot depend on its own earlier partitions.
"""

import dagster as dg

from climb.climblab import project_tokenizer
from climb.core import as_markdown, markdown_table
from climb.search import PREDICTOR, choose_optimal, fit_round_predictor, prepare_target, propose_candidates, run_round
from climb_assets.deployment import GPU_POOL
from resources import ProjectResource, ProxyTrainerResource

POOR_SPEARMAN = 0.3  # below this the predictor ranks mixtures little better than chance


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


def build_search_assets(n_rounds: int, *, gpu_op_tags: dict | None = None) -> list:
    """The search assets, partitioned into `n_rounds` rounds (from `search.rounds`).

    `gpu_op_tags` (climb_assets.deployment.gpu_op_tags) give the proxy-training steps their Kubernetes
    GPU pod; None leaves them without pod settings.
    """
    rounds = dg.StaticPartitionsDefinition([str(r) for r in range(1, n_rounds + 1)])

    @dg.asset(group_name="search", kinds={"numpy"}, deps=["tokenizer"])
    def target_set(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
        """The search target, tokenized and split: target text windows and benchmark items, with a
        held-apart split (`target.holdout_fraction`) that only verification ever sees."""
        config, storage = project.config(), project.storage()
        try:
            info = prepare_target(storage=storage, config=config, tokenizer=project_tokenizer(storage))
        except ValueError as err:
            raise dg.Failure(description=str(err)) from err
        return dg.MaterializeResult(metadata={
            "target_id": info["target_id"], "parts": dg.MetadataValue.json(info["parts"]),
            **{name: value for name, value in info["sizes"].items()}, "path": dg.MetadataValue.path(info["path"])})

    def _require_previous(context, storage, round_number: int) -> None:
        if round_number > 1 and storage.partition_path(PREDICTOR, str(round_number - 1)) is None:
            raise dg.Failure(description=f"round {round_number} needs round {round_number - 1}'s predictor: "
                                         f"materialise round {round_number - 1} first")

    @dg.asset(partitions_def=rounds, group_name="search", kinds={"numpy"}, deps=["climblab", target_set])
    def candidate_mixtures(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
        """Candidate mixtures of the round. Round 1 (`search.first_round`): `coverage`, the prior and dense draws
        that fill the simplex so every super-cluster and pair of them is in some candidates, or the paper's sparse
        `dirichlet` around the token shares. Later rounds (`search.acquisition`): `ucb`, the predicted optimum and
        picks among a pool's top by mean + exploration * std, or the paper's `mean`, top N by prediction. Within
        availability caps, rounded, evaluated mixtures excluded; `clusters_covered` and `pairs_covered` count
        what the candidates so far show the predictor (held at 5% or more). Round 1 on new super-clusters (after a re-clustering) also translates the
        earlier search's runs through document membership (`translation`: runs kept, token mass mapped)."""
        config, storage = project.config(), project.storage()
        round_number = int(context.partition_key)
        _require_previous(context, storage, round_number)
        result = propose_candidates(round_number, storage=storage, config=config, log=context.log)
        mean = {str(cid): round(float(w), 4) for cid, w in zip(result["space"].cluster_ids, result["weights"].mean(0))}
        evidence = result["evidence"] or {}  # round 1: earlier searches' runs translated to these super-clusters
        coverage = result["coverage"]  # of every mixture evaluated so far and these
        return dg.MaterializeResult(metadata={
            "round": round_number, "candidates": result["candidates"], "asked": result["asked"],
            "design": config.search.first_round if round_number == 1 else config.search.acquisition,
            "clusters_covered": f"{coverage['clusters_covered']} of {coverage['clusters']}",
            "pairs_covered": f"{coverage['pairs_covered']} of {coverage['pairs']}",
            "mean_weights": dg.MetadataValue.json(mean), "dagster/row_count": result["candidates"],
            **({"translated_runs": evidence["translated"], "earlier_runs": evidence["runs"],
                "translation": dg.MetadataValue.json(evidence)} if evidence else {})})

    @dg.asset(partitions_def=rounds, group_name="search", kinds={"pytorch"}, deps=[candidate_mixtures, target_set],
              pool=GPU_POOL, op_tags=gpu_op_tags)
    def proxy_runs(context: dg.AssetExecutionContext, project: ProjectResource,
                   proxy_trainer: ProxyTrainerResource) -> dg.MaterializeResult:
        """One proxy LM per candidate mixture, trained on token windows sampled from ClimbLab's token stores
        by the mixture's weights and scored on the target (search split; the holdout split is recorded for
        verification only). Content-addressed: a finished run is never trained again."""
        config, storage = proxy_trainer.configure(project.config()), project.storage()
        stats = run_round(int(context.partition_key), storage=storage, config=config, log=context.log)
        return dg.MaterializeResult(metadata={
            "runs": stats["runs"], "reused": stats["reused"], "best_search_score": round(stats["best_score"], 4),
            "mean_search_score": round(stats["mean_score"], 4), "workers": stats["workers"],
            "tokens_per_second": round(stats["tokens_per_second"], 1)})

    @dg.asset(partitions_def=rounds, group_name="search", kinds={"lightgbm", "scikitlearn"}, deps=[proxy_runs])
    def predictor(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
        """The predictor of score from mixture, fitted on every run of rounds 1..r (and on the earlier search's
        runs that round 1 translated, `translated_points`): the paper's LightGBM and
        smoother families (ridge, the log-linear mixing law, a Gaussian process), chosen by k-fold
        cross-validated Spearman rank correlation; every family's CV is reported."""
        config, storage = project.config(), project.storage()
        model = fit_round_predictor(int(context.partition_key), storage=storage, config=config)
        translated = storage.read_json(PREDICTOR, "cv.json", context.partition_key)["translated_points"]
        chosen = next(s for s in model.cv if s.family == model.family)
        context.log.info(f"round {context.partition_key}: {model.family} chosen on {model.n_points} points "
                         f"(CV Spearman {chosen.spearman:.3f})")
        return dg.MaterializeResult(metadata={
            "family": model.family, "n_points": model.n_points, "translated_points": translated,
            "cv_spearman": round(float(chosen.spearman), 4),
            "cv_mae": round(float(chosen.mae), 5),
            "families": dg.MetadataValue.json({s.family: {"spearman": s.spearman, "mae": s.mae} for s in model.cv})})

    @dg.asset_check(asset=predictor, partitions_def=rounds, blocking=False,
                    description=f"warns when the predictor's cross-validated Spearman is below {POOR_SPEARMAN}")
    def predictor_ranks_mixtures(context: dg.AssetCheckExecutionContext, project: ProjectResource) -> dg.AssetCheckResult:
        cv = project.storage().read_json(PREDICTOR, "cv.json", context.partition_key)
        chosen = next(s for s in cv["cv"] if s["family"] == cv["family"])
        spearman = chosen["spearman"]
        passed = spearman == spearman and spearman >= POOR_SPEARMAN  # nan (too few points) fails
        return dg.AssetCheckResult(passed=passed, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"cv_spearman": spearman, "family": cv["family"], "points": cv["n_points"]})

    @dg.asset(group_name="search", kinds={"pytorch"}, deps=[predictor], pool=GPU_POOL, op_tags=gpu_op_tags)
    def optimal_mixture(context: dg.AssetExecutionContext, project: ProjectResource,
                        proxy_trainer: ProxyTrainerResource) -> dg.MaterializeResult:
        """The search's answer under `search.final` (argmax, topk_mean, regularised, or verified: finalists
        trained on the search split compete with the best evaluated run), verified by a proxy on the held-apart
        target beside the baselines trained and scored the same way: uniform, token-proportional (the paper's
        "Random"), the best evaluated candidate (Best@N) and RegMix one-shot at the same proxy budget.
        `finalists` lists each finalist's predicted and search scores and its distance to the nearest evaluated
        mixture."""
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
            "path": dg.MetadataValue.path(result["path"])})

    return [target_set, candidate_mixtures, proxy_runs, predictor, predictor_ranks_mixtures, optimal_mixture]
