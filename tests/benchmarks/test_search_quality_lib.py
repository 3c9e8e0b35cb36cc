"""benchmarks/search_quality.py's pure helpers: round allocation, the planted mixture, the `verified` rule's choice,
the run-count estimate, held-apart and demo targets, and the summaries (gap to the best-known mixture, paired
records with a tie tolerance, the final rules, the interior check). Also the contracts the benchmark rests on:
RegMix's smaller batch is a prefix of its larger one, the search settings come from SearchConfig, and leaving the
vertex-only families out of the fit changes no predictor."""

import math

import numpy as np
import pytest

from benchmarks.labelled_corpora import LabelledDocument
from benchmarks.search_quality_data import TargetSpec, demo_documents, hold_apart, target_composition
from benchmarks.search_quality_lib import (
    allocate_rounds,
    best_known,
    compare,
    estimate_runs,
    final_rules,
    headline,
    planted_mixture,
    ratio_of,
    rules_overall,
    spearman_by_round,
    summarise,
    target_weight,
    verified_choice,
    verify_plan,
)
from benchmarks.search_quality_methods import CHOOSABLE, Search
from climb.search.mixtures import dirichlet_candidates, feasibility_caps


@pytest.mark.parametrize("total, ratio, expected", [
    (14, (4, 2, 1), [8, 4, 2]), (14, (6, 1), [12, 2]), (14, (2, 2, 1, 1), [5, 5, 2, 2]), (6, (4, 2, 1), [3, 2, 1]),
    (28, (4, 2, 1), [16, 8, 4]), (28, (6, 1), [24, 4]), (28, (2, 2, 1, 1), [9, 9, 5, 5]),
    (112, (4, 2, 1), [64, 32, 16]), (4, (1, 1, 1, 1), [1, 1, 1, 1]), (5, (10, 1, 1), [3, 1, 1]),
])
def test_rounds_split_the_total_by_the_ratio(total, ratio, expected):
    """Largest remainder on the ratio's shares, at least one run a round, summing to the total."""
    assert allocate_rounds(total, ratio) == expected


@pytest.mark.parametrize("total, ratio", [(2, (4, 2, 1)), (10, ()), (10, (1, 0))])
def test_impossible_allocations_raise(total, ratio):
    with pytest.raises(ValueError):
        allocate_rounds(total, ratio)


def test_the_search_settings_are_the_engine_defaults():
    """The main search is SearchConfig's defaults, its rounds reduced to a ratio (64/32/16 -> 4:2:1)."""
    from climb.core.config_sections import SearchConfig

    config, search = SearchConfig(), Search.defaults()
    assert ratio_of([64, 32, 16]) == (4, 2, 1) and ratio_of([12, 2]) == (6, 1) and ratio_of([5]) == (1,)
    assert search.ratio == ratio_of(config.rounds)
    assert (search.first_round, search.acquisition, search.exploration, search.final) == (
        config.first_round, config.acquisition, config.exploration, config.final)
    assert (search.top_k, search.kl_weight, search.verify_runs) == (
        config.final_top_k, config.final_kl_weight, config.final_verify_runs)
    assert search.but(acquisition="mean").acquisition == "mean" and search.acquisition == config.acquisition


def test_regmix_batch_of_the_smaller_budget_is_a_prefix_of_the_larger():
    """RegMix's batches of B + v = 17 and 31 share their first 17 rows (same seed): the two budgets train them once."""
    shares = np.array([0.4, 0.3, 0.2, 0.06, 0.04])
    caps = feasibility_caps(np.array([4e5, 3e5, 2e4, 1e5, 5e4]), tokens_per_run=12_000, max_epochs=4)
    small = dirichlet_candidates(shares, n=17, seed=3999, temperature=0.5, caps=caps)
    large = dirichlet_candidates(shares, n=31, seed=3999, temperature=0.5, caps=caps)
    assert np.array_equal(small, large[:17])


def test_choosable_families_give_the_same_predictor():
    """fit_predictor fits the chosen family on every point whatever else was cross-validated, and choose_family
    drops the vertex-only families before choosing: so fitting without them chooses the same family (the benchmark
    saves their CV), for any CV outcome, ties and undefined Spearmans included."""
    from climb.search.predictor import FAMILIES, VERTEX_ONLY, FamilyScore, choose_family

    assert set(CHOOSABLE) == set(FAMILIES) - VERTEX_ONLY
    rng = np.random.default_rng(0)
    for _ in range(2000):
        values = np.round(rng.uniform(-1, 1, len(FAMILIES)), 2)
        values[rng.random(len(FAMILIES)) < 0.15] = np.nan
        cv = tuple(FamilyScore(f, float(v), 0.1) for f, v in zip(FAMILIES, values))
        assert choose_family(cv)[0] == choose_family(tuple(c for c in cv if c.family in CHOOSABLE))[0]


def test_planted_mixture_spreads_each_label_over_its_clusters():
    """A label's share goes to the super-clusters by their share of its documents; labels nobody holds drop out."""
    composition = [{"pubmed": 90, "wiki": 10}, {"pubmed": 10, "gsm8k": 50}, {"fiction": 30}]
    planted = planted_mixture(composition, {"pubmed": 70, "gsm8k": 30})
    assert planted == pytest.approx([0.7 * 0.9, 0.7 * 0.1 + 0.3, 0.0])
    assert planted_mixture(composition, {"pubmed": 1, "absent": 5}) == pytest.approx([0.9, 0.1, 0.0])
    with pytest.raises(ValueError, match="no super-cluster"):
        planted_mixture(composition, {"absent": 1})


def test_verified_rule_trains_unevaluated_finalists_and_keeps_the_best_search_score():
    """As climb.search.optimal._answer: the first v finalists no round evaluated are trained; the best search score
    among them and the best evaluated run wins; ties go to the earlier, the best run coming last."""
    assert verify_plan([0.3, 0.0, 0.2, 0.5], 2) == [0, 2]
    assert verify_plan([0.0, 0.0], 3) == []
    assert verified_choice([-6.1, None, -6.0], -6.05) == 2
    assert verified_choice([-6.1, None, -6.2], -6.05) == 3
    assert verified_choice([-6.0, -6.0], -6.0) == 0
    assert verified_choice([], -6.0) == 0


def test_run_estimate_counts_shared_runs_once():
    """Per (lab, seed): uniform + token-proportional once, RegMix's new batch rows, round 1; per (target, seed):
    planted once, later rounds, v finalists, RegMix's verification; ablations on top."""
    out = estimate_runs(labs={"a": 2}, budgets={14: [0, 1], 28: [0]}, rounds_first={14: 8, 28: 16}, verify_runs=3,
                        ablation={"x": 31, "y": 15}, ablation_seeds=[0, 1])
    b14 = 2 * (2 + 17 + 8 + 2 * (1 + 6 + 3 + 1))
    b28 = (0 + (31 - 17) + 16) + 2 * (0 + 12 + 3 + 1)
    assert out == {"total": b14 + b28 + 92, "budget 14": b14, "budget 28": b28, "ablations": 92}


def test_target_weight_sums_the_target_majority_clusters():
    composition = [{"pubmedqa": 9, "wikitext2": 1}, {"wikitext2": 5, "pubmedqa": 4}, {}]
    assert target_weight([0.5, 0.3, 0.2], composition, {"pubmedqa"}) == pytest.approx(0.5)
    assert target_weight([0.5, 0.3, 0.2], composition, {"pubmedqa", "wikitext2"}) == pytest.approx(0.8)


def test_held_apart_documents_leave_the_corpus_and_never_overlap():
    docs = [LabelledDocument(f"{label} {i}", label, f"{label}:{i}") for label in ("a", "b") for i in range(10)]
    targets = (TargetSpec("a", (("a", 3),)), TargetSpec("mix", (("a", 2), ("b", 2))), TargetSpec("own", (), True))
    corpus, texts = hold_apart(docs, targets, seed=0)
    held = texts["a"] + texts["mix"]
    assert len(held) == len(set(held)) == 7 and len(corpus) == 13 and texts["own"] == []
    assert not set(held) & {d.text for d in corpus}
    with pytest.raises(ValueError, match="less than half"):
        hold_apart(docs, (TargetSpec("greedy", (("b", 6),)),), seed=0)
    own = [LabelledDocument("x", "b", "t:1"), LabelledDocument("y", "a", "t:2"), LabelledDocument("z", "b", "t:3")]
    assert target_composition(targets[1], own) == {"a": 2, "b": 2}
    assert target_composition(targets[2], own) == {"b": 2, "a": 1}


def test_demo_corpus_keeps_the_clean_documents_and_its_planted_target(tmp_path):
    """The demo loader drops the manifest's defect records (2,400 clean documents remain) and reads the target
    file: 240 documents, 70% medicine and 30% cooking, none of them in the corpus."""
    corpus, target = demo_documents(tmp_path / "demo")
    assert len(corpus) == 2400 and len(target) == 240
    assert target_composition(TargetSpec("demo", (), True), target) == {"medicine": 168, "cooking": 72}
    assert not {d.text for d in target} & {d.text for d in corpus}
    assert len({d.text for d in corpus}) == 2400


def _row(seed, method, loss, budget=14, weight=None, **extra):
    return {"lab": "sources/threshold", "target": "t", "budget": budget, "seed": seed, "method": method,
            "holdout_loss": loss, "target_weight": weight, "weights": extra.pop("weights", [0.5, 0.5]), **extra}


def test_best_known_is_the_lowest_loss_of_any_row_at_any_budget():
    rows = [_row(0, "climb", 6.4), _row(0, "planted", 6.3), _row(0, "regmix", 6.2, budget=28), _row(1, "climb", 6.0)]
    assert best_known(rows) == {("sources/threshold", "t", 0): 6.2, ("sources/threshold", "t", 1): 6.0}


def test_summary_gaps_and_records_with_a_tie_tolerance():
    """Gap = loss - the best-known loss of that seed; CLIMB's record counts |diff| < 0.01 as a tie."""
    rows = [_row(0, "uniform", 7.0), _row(0, "regmix", 6.5, weight=0.8), _row(0, "climb", 6.4, weight=1.0),
            _row(1, "uniform", 7.2), _row(1, "regmix", 6.005, weight=0.6), _row(1, "climb", 6.0, weight=0.6),
            _row(1, "planted", 5.8), _row(1, "ignored", 1.0)]
    best = best_known([r for r in rows if r["method"] != "ignored"])
    table = {r["method"]: r for r in summarise(rows, methods=["uniform", "regmix", "climb", "planted"], best=best)}
    assert table["uniform"]["loss_mean"] == pytest.approx(7.1)
    assert table["uniform"]["loss_std"] == pytest.approx(np.std([7.0, 7.2], ddof=1))
    assert table["uniform"]["gap_mean"] == pytest.approx(((7.0 - 6.4) + (7.2 - 5.8)) / 2)
    assert table["climb"]["gap_mean"] == pytest.approx(0.1) and table["climb"]["near"] == 1
    assert (table["regmix"]["climb_wins"], table["regmix"]["climb_losses"], table["regmix"]["climb_ties"]) == (1, 0, 1)
    assert (table["planted"]["climb_losses"], table["planted"]["paired_seeds"]) == (1, 1)
    assert table["regmix"]["target_weight_mean"] == pytest.approx(0.7)
    assert math.isnan(table["uniform"]["target_weight_mean"]) and math.isnan(table["planted"]["loss_std"])
    assert compare(6.0, 6.009) == 0 and compare(6.0, 6.02) == -1 and compare(6.02, 6.0) == 1


def test_headline_counts_wins_worse_than_uniform_near_and_interior():
    rows = [_row(0, "climb", 6.0, weights=[0.6, 0.4]), _row(0, "regmix", 6.1), _row(0, "uniform", 6.5),
            _row(1, "climb", 6.35, weights=[0.95, 0.05]), _row(1, "regmix", 6.2), _row(1, "uniform", 6.25),
            _row(2, "climb", 6.0, weights=[1.0, 0.0]), _row(2, "regmix", 6.005), _row(2, "planted", 5.85),
            _row(0, "climb", 6.1, budget=28), _row(0, "regmix", 6.0, budget=28)]
    (h14, h28) = headline(rows, best=best_known(rows), interior_target="t")
    assert (h14["wins"], h14["losses"], h14["ties"], h14["win_share"]) == (1, 1, 1, 0.5)
    assert (h14["worse_than_baseline"], h14["baseline_pairs"]) == (1, 2)
    assert (h14["near"], h14["gap_pairs"]) == (1, 3)  # seed 1: 0.15 above regmix's 6.2; seed 2: 0.15 above planted
    assert (h14["interior"], h14["interior_seeds"]) == (1, 3)
    assert (h28["budget"], h28["wins"], h28["losses"]) == (28, 0, 1)


def test_final_rules_read_each_finalist_and_the_verified_answer():
    def finals(argmax, topk, run, chosen):
        return [{"rule": "argmax", "holdout_loss": argmax, "chosen": chosen == "argmax"},
                {"rule": "topk_mean", "holdout_loss": topk, "chosen": chosen == "topk_mean"},
                {"rule": "best_evaluated_run", "holdout_loss": run, "chosen": chosen == "best_evaluated_run"}]

    rows = [_row(0, "climb", 6.1, finalists=finals(6.1, 6.3, 6.2, "argmax")),
            _row(1, "climb", 6.2, finalists=finals(6.4, 6.0, 6.2, "best_evaluated_run")), _row(1, "planted", 6.0)]
    best = best_known(rows)
    table = {r["rule"]: r for r in final_rules(rows, best=best)}
    assert "regularised" not in table and table["argmax"]["chosen"] == 1
    assert table["topk_mean"]["loss_mean"] == pytest.approx(6.15)
    assert table["topk_mean"]["gap_mean"] == pytest.approx(0.1)
    assert table["verified"]["loss_mean"] == pytest.approx(6.15) and table["verified"]["chosen"] is None
    overall = {r["rule"]: r for r in rules_overall(rows, best=best)}
    assert (overall["topk_mean"]["better_than_verified"], overall["topk_mean"]["worse_than_verified"]) == (1, 1)
    assert overall["regularised"]["pairs"] == 0 and overall["best_evaluated_run"]["chosen"] == 1


def test_spearman_by_round_skips_undefined_rounds():
    rounds = [{"points": 8, "family": "log_linear", "spearman": None},
              {"points": 12, "family": "gp_log", "spearman": 0.5}]
    rows = [{**_row(s, "climb", 6.0), "rounds": [rounds[0], {**rounds[1], "spearman": 0.5 + 0.2 * s}]}
            for s in range(2)]
    by_round = spearman_by_round(rows, method="climb")
    assert math.isnan(by_round[0]["spearman_mean"]) and by_round[0]["families"] == {"log_linear": 2}
    assert by_round[1]["spearman_mean"] == pytest.approx(0.6) and by_round[1]["points"] == 12
