"""ClimbLab stage (paper step 5): the tokenizer, the clustered corpus and its token stores."""

from climb.climblab.build import (CLIMBLAB, CLUSTERS_FILE, DATA, PRUNED_FILE, TOKENIZER, build_tokenizer,
                                  cluster_folder, documents_path, documents_sql, project_tokenizer, verify_climblab,
                                  write_climblab)
from climb.climblab.tokenization import count_tokens

__all__ = ["CLIMBLAB", "CLUSTERS_FILE", "DATA", "PRUNED_FILE", "TOKENIZER", "build_tokenizer", "cluster_folder",
           "count_tokens", "documents_path", "documents_sql", "project_tokenizer", "verify_climblab", "write_climblab"]
