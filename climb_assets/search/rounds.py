"""The search rounds as their own assets (paper step 6: iterative bootstrapping), built from `search.rounds`.

Round r is `search/round_<r>/candidate_mixtures` -> `search/round_<r>/proxy_runs` -> `search/round_<r>/predictor`,
and round r's candidates depend on round r-1's predictor: the order lives in the graph, so every Dagster planner
(the UI's "Materialize all", `dagster asset materialize`, declarative automation, `climb run`) runs the rounds one
after the other. `proxy_runs` is a graph: one step plans the round, one step per candidate trains its proxy (the
GPU pool bounds them across runs; on Kubernetes each gets its own GPU pod; a failed proxy is retried alone), and
one step commits the round. Runs are content-addressed, so a repeated or resumed round never retrains.
"""

import dagster as dg

from climb.search import (PREDICTOR, PROXY_CACHE, commit_round, fit_round_predictor, propose_candidates,
                          round_weights, train_candidate)
from climb_assets.deployment import GPU_POOL
from resources import ProjectResource, ProxyTrainerResource

POOR_SPEARMAN = 0.3  # below this the predictor ranks mixtures little better than chance
PROXY_RETRIES = dg.RetryPolicy(max_retries=2, delay=5)  # a lost GPU pod or a killed worker: that proxy alone again
AUTOMATION = dg.AutomationCondition.eager()  # once its upstream is updated, the next round follows


def round_key(round_number: int, name: str) -> dg.AssetKey:
    return dg.AssetKey(["search", f"round_{round_number}", name])


def _candidate_mixtures(r: int, upstream: list) -> dg.AssetsDefinition:
    @dg.asset(key=round_key(r, "candidate_mixtures"), group_name="search", kinds={"numpy"}, deps=upstream,
              automation_condition=AUTOMATION)
    def candidate_mixtures(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
        """Candidate mixtures of the round. Round 1 (`search.first_round`): `coverage`, the prior and dense
        draws that fill the simplex so every super-cluster and pair of them is in some candidates, or the paper's
        sparse `dirichlet`. Later rounds (`search.acquisition`): `ucb`, the predicted optimum and picks among a
        pool's top by mean + exploration * std, `thompson`, or the paper's `mean`. Within availability caps,
        evaluated mixtures excluded; `clusters_covered` and `pairs_covered` count what the candidates so far
        show the predictor. Round 1 on new super-clusters (after a re-clustering) also translates the earlier
        search's runs through document membership (`translation`)."""
        config, storage = project.config(), project.storage()
        if r > 1 and storage.partition_path(PREDICTOR, str(r - 1)) is None:  # materialised by hand, out of order
            raise dg.Failure(description=f"round {r} ranks its pool by round {r - 1}'s predictor: materialise "
                                         f"{round_key(r - 1, 'predictor').to_user_string()} first")
        result = propose_candidates(r, storage=storage, config=config, log=context.log)
        mean = {str(cid): round(float(w), 4) for cid, w in zip(result["space"].cluster_ids, result["weights"].mean(0))}
        evidence, coverage = result["evidence"] or {}, result["coverage"]
        return dg.MaterializeResult(metadata={
            "round": r, "candidates": result["candidates"], "asked": result["asked"],
            "design": config.search.first_round if r == 1 else config.search.acquisition,
            "clusters_covered": f"{coverage['clusters_covered']} of {coverage['clusters']}",
            "pairs_covered": f"{coverage['pairs_covered']} of {coverage['pairs']}",
            "mean_weights": dg.MetadataValue.json(mean), "dagster/row_count": result["candidates"],
            **({"translated_runs": evidence["translated"], "earlier_runs": evidence["runs"],
                "translation": dg.MetadataValue.json(evidence)} if evidence else {})})

    return candidate_mixtures


def _proxy_runs(r: int, gpu_op_tags: dict | None) -> dg.AssetsDefinition:
    @dg.op(name=f"plan_round_{r}", ins={"after": dg.In(dg.Nothing)}, out=dg.DynamicOut(int))
    def plan(context: dg.OpExecutionContext, project: ProjectResource):
        """One output per candidate of the round: the steps that train them."""
        count = len(round_weights(r, storage=project.storage()))
        context.log.info(f"round {r}: {count} proxy runs to train")
        for index in range(count):
            yield dg.DynamicOutput(index, mapping_key=str(index))

    @dg.op(name=f"train_round_{r}", pool=GPU_POOL, tags=gpu_op_tags, retry_policy=PROXY_RETRIES)
    def train(context: dg.OpExecutionContext, project: ProjectResource, proxy_trainer: ProxyTrainerResource,
              index: int) -> dict:
        """One candidate's proxy, trained in this step (or taken from the content-addressed cache)."""
        config = proxy_trainer.configure(project.config())
        result = train_candidate(r, index, storage=project.storage(), config=config, log=context.log)
        return {"index": index, "key": result["key"], "reused": result["reused"]}

    @dg.op(name=f"commit_round_{r}")
    def commit(context: dg.OpExecutionContext, project: ProjectResource, proxy_trainer: ProxyTrainerResource,
               trained: list[dict]):
        """The round's runs, in candidate order, committed as one table once every proxy is done."""
        config, storage = proxy_trainer.configure(project.config()), project.storage()
        results = [{**cached_result(storage, t["key"]), "reused": t["reused"]}
                   for t in sorted(trained, key=lambda t: t["index"])]
        stats = commit_round(r, results, storage=storage, config=config)
        context.log.info(f"round {r}: {stats['runs']} runs ({stats['reused']} reused), best search score "
                         f"{stats['best_score']:.4f}")
        return dg.Output(None, metadata={
            "round": r, "runs": stats["runs"], "reused": stats["reused"],
            "best_search_score": round(stats["best_score"], 4), "mean_search_score": round(stats["mean_score"], 4),
            "tokens_per_second": round(stats["tokens_per_second"], 1)})

    @dg.graph_asset(key=round_key(r, "proxy_runs"), group_name="search", kinds={"pytorch"},
                    ins={"candidates": dg.AssetIn(round_key(r, "candidate_mixtures"), dagster_type=dg.Nothing)},
                    automation_condition=AUTOMATION)
    def proxy_runs(candidates):
        """One proxy LM per candidate mixture, each trained in its own step on token windows sampled from
        ClimbLab's token stores by the mixture's weights and scored on the target (search split; the holdout
        is recorded for verification only). Content-addressed: a finished run is never trained again."""
        return commit(plan(after=candidates).map(train).collect())

    return proxy_runs


def cached_result(storage, key: str) -> dict:
    """A trained proxy's result from the content-addressed cache (written by the step that trained it)."""
    result = storage.read_cache_json(PROXY_CACHE, key)
    if result is None:
        raise dg.Failure(description=f"proxy run {key} is missing from the cache: its step did not commit it")
    return result


def _predictor(r: int) -> tuple[dg.AssetsDefinition, dg.AssetChecksDefinition]:
    key = round_key(r, "predictor")

    @dg.asset(key=key, group_name="search", kinds={"lightgbm", "scikitlearn"}, deps=[round_key(r, "proxy_runs")],
              automation_condition=AUTOMATION)
    def predictor(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
        """The predictor of score from mixture, fitted on every run of rounds 1..r (and on the earlier search's
        runs that round 1 translated, `translated_points`): every family cross-validated by k-fold Spearman, the
        best that can represent coverage chosen; every family's CV is reported."""
        storage = project.storage()
        model = fit_round_predictor(r, storage=storage, config=project.config())
        translated = storage.read_json(PREDICTOR, "cv.json", str(r))["translated_points"]
        chosen = next(s for s in model.cv if s.family == model.family)
        context.log.info(f"round {r}: {model.family} chosen on {model.n_points} points "
                         f"(CV Spearman {chosen.spearman:.3f})")
        return dg.MaterializeResult(metadata={
            "round": r, "family": model.family, "n_points": model.n_points, "translated_points": translated,
            "cv_spearman": round(float(chosen.spearman), 4), "cv_mae": round(float(chosen.mae), 5),
            "note": model.note,
            "families": dg.MetadataValue.json({s.family: {"spearman": s.spearman, "mae": s.mae} for s in model.cv})})

    @dg.asset_check(asset=key, name="predictor_ranks_mixtures", blocking=False,
                    description=f"warns when the predictor's cross-validated Spearman is below {POOR_SPEARMAN}")
    def predictor_ranks_mixtures(project: ProjectResource) -> dg.AssetCheckResult:
        cv = project.storage().read_json(PREDICTOR, "cv.json", str(r))
        chosen = next(s for s in cv["cv"] if s["family"] == cv["family"])
        spearman = chosen["spearman"]
        passed = spearman is not None and spearman >= POOR_SPEARMAN  # None: too few points (nan)
        return dg.AssetCheckResult(passed=passed, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"cv_spearman": spearman, "family": cv["family"], "points": cv["n_points"]})

    return predictor, predictor_ranks_mixtures


def build_round_assets(rounds: list[int], *, first_deps: list, gpu_op_tags: dict | None = None) -> list:
    """Every round's three assets and its predictor check, round r's candidates after round r-1's predictor.

    Args:
        rounds: proxy runs per round (`search.rounds`): one round per entry.
        first_deps: what round 1's candidates need (ClimbLab and the target set).
        gpu_op_tags: the Kubernetes GPU pod of the proxy-training steps (None: no pod settings).
    """
    built: list = []
    for r in range(1, len(rounds) + 1):
        upstream = first_deps if r == 1 else [round_key(r - 1, "predictor")]
        predictor, check = _predictor(r)
        built += [_candidate_mixtures(r, upstream), _proxy_runs(r, gpu_op_tags), predictor, check]
    return built
