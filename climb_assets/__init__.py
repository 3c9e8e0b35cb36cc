"""The CLIMB asset graph: what is materialised, partitioned how, checked how, triggered by what."""
