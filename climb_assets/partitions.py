"""Partitions: input shards (one per file, registered as they appear)."""

import dagster as dg

SHARDS = "shards"
shards_partitions = dg.DynamicPartitionsDefinition(name=SHARDS)
