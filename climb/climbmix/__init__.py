"""ClimbMix stage (paper step 7): ClimbLab sampled at the optimal mixture, in training formats, with a card."""

from climb.climbmix.export import CLIMBMIX, SUMMARY, export_to_directory, materialise_climbmix, verify_export
from climb.climbmix.plan import BUDGET_TOLERANCE, FORMATS, WEIGHT_TOLERANCE, ExportSettings

__all__ = ["BUDGET_TOLERANCE", "CLIMBMIX", "FORMATS", "SUMMARY", "WEIGHT_TOLERANCE", "ExportSettings",
           "export_to_directory", "materialise_climbmix", "verify_export"]
