"""The CLIMB asset graph: what is materialised, partitioned how, checked how, triggered by what."""

import warnings

import dagster as dg

# Partitioned asset checks (one result per shard, re-runnable on their own) are a Dagster preview
# feature in 1.13; we rely on it knowingly.
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*")
