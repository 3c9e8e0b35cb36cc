"""Quality stage: the paper's four raters on a 0-5 scale (heuristic, fastText, trained LightGBM or a Hugging Face
classifier)."""

from climb.quality.store import rater_specs, trained_raters, verify_quality_scores, write_quality_scores

__all__ = ["rater_specs", "trained_raters", "verify_quality_scores", "write_quality_scores"]
