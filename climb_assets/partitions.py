"""Partitions: input shards (one per file, registered as they appear); the jobs over each partitioning."""

import dagster as dg

SHARDS = "shards"
shards_partitions = dg.DynamicPartitionsDefinition(name=SHARDS)

# One job per partitioning (a run materialises assets of one partitioning): per shard and corpus-wide (the
# search rounds included: each round is its own assets), for launching from the UI and for new_shards_sensor.
# Selections spanning both are asset backfills (climb_assets/backfills.py).
SHARD_JOB, CORPUS_JOB = "climb_shards", "climb_corpus"
