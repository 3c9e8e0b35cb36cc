"""ClimbLab stage (paper step 5): the tokenizer, the clustered corpus and its token stores."""

from climb.climblab.build import (CLIMBLAB, TOKENIZER, build_tokenizer, project_tokenizer, verify_climblab,
                                  write_climblab)
from climb.climblab.tokenization import count_tokens

__all__ = ["CLIMBLAB", "TOKENIZER", "build_tokenizer", "count_tokens", "project_tokenizer", "verify_climblab",
           "write_climblab"]
