"""Corpus stage: input files become shards, read record by record, and accounted documents."""

from climb.corpus.documents import COUNT_FIELDS, config_shards, locate_shard, verify_accounting, write_documents
from climb.corpus.readers import UnreadableFileError

__all__ = ["COUNT_FIELDS", "UnreadableFileError", "config_shards", "locate_shard", "verify_accounting",
           "write_documents"]
