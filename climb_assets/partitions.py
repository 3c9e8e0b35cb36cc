"""Partitions: input shards (one per file, registered as they appear); the jobs over each partitioning."""

import dagster as dg

SHARDS = "shards"
shards_partitions = dg.DynamicPartitionsDefinition(name=SHARDS)

# One job per partitioning (a run materialises assets of one partitioning): per shard and corpus-wide (the
# search rounds included: each round is its own assets). `climb run` launches them phase by phase; sensors
# target them by name.
SHARD_JOB, CORPUS_JOB = "climb_shards", "climb_corpus"
