"""Search stage (paper step 6): target, candidate mixtures, proxy runs, predictor rounds, optimal mixture."""

from climb.search.optimal import OPTIMAL, choose_optimal, verify_mixtures
from climb.search.proxy import learnt_settings
from climb.search.rounds import PREDICTOR, fit_round_predictor, propose_candidates, run_round, search_space
from climb.search.target_set import TARGET, prepare_target

__all__ = ["OPTIMAL", "PREDICTOR", "TARGET", "choose_optimal", "fit_round_predictor", "learnt_settings",
           "prepare_target", "propose_candidates", "run_round", "search_space", "verify_mixtures"]
