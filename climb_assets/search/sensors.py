"""Sensors of the search stage: the rounds one after the other, then the optimal mixture (docs/architecture.md, partitions and sensors)."""

import json
from collections.abc import Sequence

import dagster as dg

from resources import ProjectResource
from climb_assets.partitions import CORPUS_JOB, ROUND_JOB
from climb.climblab import CLIMBLAB, TOKENIZER
from climb.search import OPTIMAL
from climb.search import PREDICTOR, search_space
from climb.search import TARGET
from climb.core import Storage


def _round_done(storage: Storage, round_number: int, data_version: str, after: float) -> dict | None:
    """Round r's predictor manifest when it was fitted on this data version after round r-1's; else None."""
    key = str(round_number)
    if storage.partition_path(PREDICTOR, key) is None:
        return None
    manifest = storage.manifest(PREDICTOR, key)
    fitted_on = storage.read_json(PREDICTOR, "cv.json", key).get("data_version")  # absent: fitted before versions
    return manifest if fitted_on == data_version and manifest["committed_at"] >= after else None


def evaluate_search_rounds(context: dg.SensorEvaluationContext, project: ProjectResource):
    """Request the first search round not yet done on the current super-clusters; after the last, the optimal mixture.

    Reads storage, not the instance's materialisation events: a round counts as done only when its predictor
    was fitted on ClimbLab's current data version (a re-clustering restarts the search at round 1) and after
    the round before it (re-running round r redoes the rounds after it).
    """
    config, storage = project.config(), project.storage()
    missing = [name for name in (CLIMBLAB, TOKENIZER, TARGET) if storage.partition_path(name) is None]
    if missing:
        return dg.SkipReason(f"the search needs {', '.join(missing)}: materialise them first")
    version = search_space(storage).data_version
    rounds = len(config.search.rounds)
    previous: dict | None = None
    for round_number in range(1, rounds + 1):
        done = _round_done(storage, round_number, version, previous["committed_at"] if previous else 0.0)
        if done is None:
            after = f":{previous['version'][:8]}" if previous else ""  # a new predictor r-1 asks for a new round r
            run_key = f"round:{round_number}:{version}{after}"
            context.log.info(f"search round {round_number} of {rounds} on data version {version}")
            return dg.SensorResult(
                run_requests=[dg.RunRequest(run_key=run_key, job_name=ROUND_JOB, partition_key=str(round_number))],
                cursor=json.dumps({"data_version": version, "requested": run_key}))
        previous = done
    if storage.partition_path(OPTIMAL) is not None and \
            storage.manifest(OPTIMAL)["committed_at"] >= previous["committed_at"]:
        return dg.SkipReason(f"all {rounds} rounds and the optimal mixture are done on data version {version}")
    run_key = f"optimal:{version}:{previous['version'][:8]}"
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key, job_name=CORPUS_JOB, asset_selection=[dg.AssetKey(OPTIMAL)])],
        cursor=json.dumps({"data_version": version, "requested": run_key}))


def build_search_rounds_sensor(jobs: Sequence) -> dg.SensorDefinition:
    """`search_rounds_sensor`, targeting the code location's round and corpus-wide jobs among `jobs`."""
    targets = [job for job in jobs if job.name in (ROUND_JOB, CORPUS_JOB)]
    return dg.sensor(
        name="search_rounds_sensor", jobs=targets, minimum_interval_seconds=60,
        description="Drives the mixture search unattended: round 1 when ClimbLab has super-clusters no round ran "
        "on, round r+1 once round r's predictor is materialised, and the optimal mixture after the last round.",
    )(evaluate_search_rounds)
