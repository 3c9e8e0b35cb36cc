"""Search stage (paper step 6): target, candidate mixtures, proxy runs, predictor rounds, optimal mixture, and the
saved proxies that lm-evaluation-harness scores."""

from climb.search.lm_eval_tasks import run_lm_eval, write_task
from climb.search.optimal import OPTIMAL, choose_optimal, verify_mixtures
from climb.search.proxy import learnt_settings
from climb.search.proxy_jobs import CACHE as PROXY_CACHE
from climb.search.round_runs import commit_round, round_weights, run_round, train_candidate
from climb.search.rounds import PREDICTOR, fit_round_predictor, propose_candidates, search_space
from climb.search.saved_proxies import save_proxy, saved_proxy, saves
from climb.search.target_set import TARGET, contaminated_documents, prepare_target, target_files_version

__all__ = ["OPTIMAL", "PREDICTOR", "PROXY_CACHE", "TARGET", "choose_optimal", "commit_round", "contaminated_documents",
           "fit_round_predictor", "learnt_settings", "prepare_target", "propose_candidates", "round_weights",
           "run_lm_eval", "run_round", "save_proxy", "saved_proxy", "saves", "search_space", "target_files_version",
           "train_candidate", "verify_mixtures", "write_task"]
