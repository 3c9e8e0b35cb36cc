"""Search quality, second stage: does CLIMB's search (engine defaults) beat one-shot RegMix at equal budget, and
how close does it get to the best mixture known?

    python benchmarks/search_quality.py --estimate          # build the labs, count the proxy runs, time a few
    python benchmarks/search_quality.py [--tokens 12000] [--max-windows 32] [--workers 2] [--out PATH]
    python benchmarks/search_quality.py --tables benchmarks/results/search_quality_stage2.json   # reprint

Labs (benchmarks/search_quality_data.py, cached under benchmarks/.cache/): the six-source corpus (docs/test_data.md
A2), AG News (A1) and the project's demo corpus (climb.demo.generate_demo_corpus(out, seed=0), label = domain);
each: MiniLM embeddings, spherical K-means, Ward merge at the paper's threshold 1.5, a 4k BPE, token stores.
Targets, split by document into a search half the methods optimise and a holdout half only verification sees:
PubMed abstracts, GSM8K problems, 50/50 Wikipedia + Federalist and 70/30 PubMed + GSM8K (held apart from the six
sources); Sports and 50/50 World + Business (held apart from AG News); the demo's own planted target (70%
medicine, 30% cooking; the corpus never held it).

Methods per (lab, target, seed) at budget B (benchmarks/search_quality_methods.py): CLIMB under
climb.core.config_sections.SearchConfig's defaults (rounds by its ratio, 4:2:1, of B; round 1 and later rounds by
the default design and acquisition; the predictor refitted after each round; final rule `verified`, whose v =
final_verify_runs finalists count in its budget: B + v at most); RegMix one-shot given B + v runs (one Dirichlet
batch, predictor, mean of the top 100: climb.search.optimal.regmix_mixture); Best@N (the batch's best by search
score); uniform; token-proportional; CLIMB's best evaluated run; and the planted mixture (the target's known
composition over the super-clusters). DoReMi is left out by default (the first stage measured it: no better
than uniform anywhere; --doremi brings it back). Every chosen mixture is verified by a proxy with the seed's settings on
the holdout split; the best-known mixture of a (target, seed) is the lowest verified loss of any of them, at any
budget, ablations included. Ablations on the 70/30 PubMed + GSM8K target: round splits, first-round design,
acquisition. Writes benchmarks/results/search_quality_stage2.json (snapshots while running) and prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.labelled_corpora import data_dir_default  # noqa: E402
from benchmarks.machine import numpy_matmul_gflops  # noqa: E402
from benchmarks.search_quality_data import CorpusSpec, TargetSpec, build_labs  # noqa: E402
from benchmarks.search_quality_lib import (NEAR, TIE, allocate_rounds, best_known, estimate_runs,  # noqa: E402
                                           final_rules, headline, planted_mixture, rules_overall,
                                           spearman_by_round, summarise)
from benchmarks.search_quality_methods import (CHOOSABLE, Climb, Search, Setting, doremi, fixed,  # noqa: E402
                                               planted, random_batch)
from benchmarks.search_quality_runs import Scheduler  # noqa: E402
from climb.search.proxy import ProxyConfig  # noqa: E402

RESULTS, CACHE = REPO / "benchmarks" / "results", REPO / "benchmarks" / ".cache"
MAIN = ["uniform", "token_proportional", "doremi", "best_of_n", "regmix", "climb_best_run", "climb", "planted"]
TARGETS = {  # corpus -> target name -> (label, documents held apart) parts; the demo's target is its own file
    "sources": {"pubmedqa": (("pubmedqa", 100),), "gsm8k": (("gsm8k", 150),),
                "wikitext2+federalist": (("wikitext2", 60), ("federalist_papers", 60)),
                "pubmedqa+gsm8k": (("pubmedqa", 84), ("gsm8k", 36))},
    "ag_news": {"Sports": (("Sports", 300),), "World+Business": (("World", 150), ("Business", 150))},
    "demo": {"demo": ()},
}
RATIOS = ((4, 2, 1), (6, 1), (2, 2, 1, 1))  # the round-split ablation (the default's ratio is the main run)
INTERIOR_TARGET = "World+Business"
log = logging.getLogger("search_quality")


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpora", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    p.add_argument("--budgets", nargs="+", type=int, default=[14, 28], help="proxy runs of CLIMB's rounds (B)")
    p.add_argument("--seeds", nargs="+", type=int, default=[8, 5], help="seeds 0..n-1 per budget")
    p.add_argument("--tokens", type=int, default=12_000, help="training tokens per proxy")
    p.add_argument("--sequence-length", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--pool-size", type=int, default=20_000, help="mixtures ranked by a predictor (engine: 100k)")
    p.add_argument("--per-source", type=int, default=300, help="six sources: documents per source")
    p.add_argument("--ag-per-class", type=int, default=800, help="AG News: documents per class")
    p.add_argument("--max-windows", type=int, default=32, help="target windows per split")
    p.add_argument("--doremi", action="store_true", help="also run DoReMi (the first stage's; 3 runs per lab-seed)")
    p.add_argument("--no-ablations", action="store_true")
    p.add_argument("--ablation-target", default="pubmedqa+gsm8k")
    p.add_argument("--ablation-budget", type=int, default=28)
    p.add_argument("--ablation-seeds", type=int, default=5, help="seeds 0..n-1")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--estimate", action="store_true", help="build the labs, count the runs, time --probe proxies")
    p.add_argument("--probe", type=int, default=3, help="proxies timed by --estimate")
    p.add_argument("--snapshot-minutes", type=float, default=5.0, help="write partial results this often")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--cache", type=Path, default=CACHE)
    p.add_argument("--out", type=Path, default=RESULTS / "search_quality_stage2.json")
    p.add_argument("--tables", type=Path, default=None, help="only print the tables of this results JSON")
    args = p.parse_args(argv)
    if len(args.seeds) != len(args.budgets):
        p.error("--seeds gives one seed count per --budgets entry")
    return args


def corpus_spec(name: str, args) -> CorpusSpec:
    per_label = {"sources": args.per_source, "ag_news": args.ag_per_class, "demo": 0}[name]
    return CorpusSpec(name=name, documents_per_label=per_label,
                      targets=tuple(TargetSpec(t, parts, external=name == "demo")
                                    for t, parts in TARGETS[name].items()),
                      sequence_length=args.sequence_length, max_windows=args.max_windows)


def variants(default: Search) -> dict[str, Search]:
    """The ablation's searches, each one setting away from the default (the default itself is the main run)."""
    from climb.search.designs import ACQUISITIONS, FIRST_ROUNDS

    out = {}
    for ratio in RATIOS:
        if ratio != default.ratio:
            out[f"climb[rounds {':'.join(map(str, ratio))}]"] = default.but(ratio=ratio)
    for design in FIRST_ROUNDS:
        if design != default.first_round:
            out[f"climb[first_round {design}]"] = default.but(first_round=design)
    for acquisition in ("ucb", "thompson", "mean"):
        if acquisition in ACQUISITIONS and acquisition != default.acquisition:
            out[f"climb[acquisition {acquisition}]"] = default.but(acquisition=acquisition)
    return out


def budget_plan(args) -> dict[int, list[int]]:
    return {b: list(range(n)) for b, n in zip(args.budgets, args.seeds)}


def estimate(args, labs, default: Search, ablations: dict[str, Search]) -> dict:
    """Proxy runs (an upper bound) and, with --probe, their time on this machine."""
    plan = budget_plan(args)
    ablation_runs = {}
    for name, search in ablations.items():
        shared = search.ratio == default.ratio and search.first_round == default.first_round
        first = allocate_rounds(args.ablation_budget, search.ratio)[0]
        ablation_runs[name] = args.ablation_budget + search.verify_runs - (first if shared else 0)
    runs = estimate_runs(labs={lab.name: len(lab.targets) for lab in labs.values()}, budgets=plan,
                         rounds_first={b: allocate_rounds(b, default.ratio)[0] for b in plan},
                         verify_runs=default.verify_runs,
                         ablation=None if args.no_ablations else ablation_runs,
                         ablation_seeds=range(args.ablation_seeds))
    fits = sum(len(lab.targets) * len(seeds) * (len(default.ratio) + 1) for lab in labs.values()
               for seeds in plan.values())
    fits += 0 if args.no_ablations else args.ablation_seeds * sum(len(s.ratio) for s in ablations.values())
    return {"proxy_runs": runs, "predictor_fits": fits}


def probe(args, lab, n: int) -> dict:
    """Seconds of n proxy runs scored on every target of `lab` (round 1's case) and of one predictor fit."""
    import numpy as np

    from benchmarks.search_quality_runs import Job, run_job
    from climb.search.mixtures import dirichlet_candidates
    from climb.search.predictor import fit_predictor

    seconds = []
    for i in range(-1, n):  # run -1 warms up (imports): not timed
        proxy = ProxyConfig(preset="tiny", tokens=args.tokens, sequence_length=args.sequence_length,
                            batch_size=args.batch_size, device="cpu", seed=10_000 + i, threads=1)
        w = dirichlet_candidates(lab.token_shares, n=1, seed=10_000 + i)[0]
        job = Job("proxy", dict(zip(lab.cluster_ids, w.tolist())), lab.store_folders, lab.vocab_size, proxy,
                  lab.data_version, {lab.target_ids[t]: lab.targets[t] for t in lab.targets}, "probe")
        started = time.perf_counter()
        run_job(job)
        if i >= 0:
            seconds.append(time.perf_counter() - started)
    x = dirichlet_candidates(lab.token_shares, n=16, seed=1)
    started = time.perf_counter()
    fit_predictor(x, np.log(x[:, 0] + 0.02) + np.random.default_rng(0).normal(0, 0.05, 16), seed=0, families=CHOOSABLE)
    return {"proxy_seconds": seconds, "fit_seconds": time.perf_counter() - started,
            "load_average": os.getloadavg()}


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("resources").setLevel(logging.WARNING)
    args = parse(argv)
    if args.tables:
        out = json.loads(args.tables.read_text())
        print_tables(out)
        print()
        return print_compact(out)
    started = time.perf_counter()
    default = Search.defaults()
    ablations = {} if args.no_ablations else variants(default)
    labs, specs = {}, {}
    for name in args.corpora:
        specs[name] = corpus_spec(name, args)
        labs[name] = build_labs(specs[name], data_dir=args.data_dir or data_dir_default(),
                                cache=args.cache)["threshold"]
    planned = estimate(args, labs, default, ablations)
    print(f"planned: {json.dumps(planned)}", flush=True)
    if args.estimate:
        timing = probe(args, labs["sources"] if "sources" in labs else next(iter(labs.values())), args.probe)
        per_run = sum(timing["proxy_seconds"]) / len(timing["proxy_seconds"])
        minutes = (planned["proxy_runs"]["total"] * per_run / args.workers
                   + planned["predictor_fits"] * timing["fit_seconds"]) / 60
        print(f"probe: {json.dumps(timing)}\nestimate: {planned['proxy_runs']['total']} runs x {per_run:.1f} s / "
              f"{args.workers} workers + {planned['predictor_fits']} fits x {timing['fit_seconds']:.1f} s "
              f"= {minutes:.0f} min (an upper bound on runs; load shifts it)")
        return
    rows: list[dict] = []
    sched = Scheduler(args.cache, args.workers)
    labels = {lab.name: {t: set(lab.target_compositions[t]) for t in lab.targets} for lab in labs.values()}
    plan = budget_plan(args)

    def setting(lab, seed, budget, rank):
        proxy = ProxyConfig(preset="tiny", tokens=args.tokens, sequence_length=args.sequence_length,
                            batch_size=args.batch_size, device="cpu", seed=seed, threads=1)
        return Setting(lab, seed, proxy, budget, args.pool_size, default, labels[lab.name], rank)

    for rank, (budget, seeds) in zip((200, 100), plan.items()):  # the smaller budget first: it finishes sooner
        for lab in labs.values():
            targets = list(lab.targets)
            for seed in seeds:
                s = setting(lab, seed, budget, rank)
                fixed(s, sched, rows, targets)
                if args.doremi:
                    doremi(s, sched, rows, targets)
                random_batch(s, sched, rows, targets)
                for target in targets:
                    planted(s, sched, rows, target)
                    Climb(s, sched, rows, target, default)
    lab = next((lab for lab in labs.values() if args.ablation_target in lab.targets), None)
    if ablations and lab is not None:
        for seed in range(args.ablation_seeds):
            s = setting(lab, seed, args.ablation_budget, 0)
            for method, search in ablations.items():
                Climb(s, sched, rows, args.ablation_target, search, method=method)
    info = {"planned": planned, "default_search": default.describe(),
            "ablation_searches": {m: s.describe() for m, s in ablations.items()},
            "labs": {lab.name: lab_info(lab, specs[name]) for name, lab in labs.items()}}
    every, last = args.snapshot_minutes * 60, [time.perf_counter()]

    def snapshot() -> None:
        if time.perf_counter() - last[0] >= every:
            last[0] = time.perf_counter()
            report(args, rows, info, sched, time.perf_counter() - started, final=False)

    sched.run(on_progress=snapshot)
    sched.close()
    print_tables(report(args, rows, info, sched, time.perf_counter() - started, final=True))


def lab_info(lab, spec) -> dict:
    return {"k": len(lab.cluster_ids), "composition": lab.composition, "store_tokens": lab.store_tokens.tolist(),
            "token_shares": [round(float(x), 4) for x in lab.token_shares],
            "target_compositions": lab.target_compositions,
            "planted": {t: [round(float(x), 4) for x in planted_mixture(lab.composition, c)]
                        for t, c in lab.target_compositions.items()},
            "spec": repr(spec)}


def report(args, rows, info, sched, seconds, *, final: bool) -> dict:
    """Summaries over seeds, written with every row, the settings and the machine to args.out."""
    best = best_known(rows)
    main_rows = [r for r in rows if r["method"] in MAIN]
    ablation_rows = [r for r in rows if r["target"] == args.ablation_target and r["budget"] == args.ablation_budget
                     and r["seed"] < args.ablation_seeds]
    ablation_methods = ["climb", *info["ablation_searches"], "regmix"]
    machine = {"node": platform.node(), "platform": platform.platform(), "processor": platform.processor(),
               "cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()}
    if final:
        machine["numpy_matmul_gflops"] = round(numpy_matmul_gflops(), 1)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    out = {"partial": not final, "machine": machine, "date": time.strftime("%Y-%m-%d"),
           "wall_seconds": round(seconds, 1), "command": " ".join(sys.argv),
           "settings": {**settings, "tie": TIE, "near": NEAR, "predictor_families": list(CHOOSABLE),
                        "schedules": {b: allocate_rounds(b, tuple(map(int, info["default_search"]["ratio"].split(":"))))
                                      for b in args.budgets}, **info},
           "proxy_runs": {"trained": sched.trained, "reused": sched.reused, "worker_seconds": round(sched.seconds, 1)},
           "headline": headline(main_rows, best=best, interior_target=INTERIOR_TARGET),
           "summary": summarise(main_rows, methods=MAIN, best=best),
           "final_rules": final_rules(main_rows, best=best), "rules_overall": rules_overall(main_rows, best=best),
           "ablation": summarise(ablation_rows, methods=ablation_methods, best=best),
           "ablation_vs_regmix": [h for m in ablation_methods[:-1]
                                  for h in headline(ablation_rows, best=best, method=m)],
           "spearman": spearman_by_round(main_rows, method="climb") + spearman_by_round(main_rows, method="regmix"),
           "interior": [{"budget": r["budget"], "seed": r["seed"], "method": r["method"], "max_weight": r["max_weight"],
                         "weights": r["weights"], "holdout_loss": r["holdout_loss"]}
                        for r in rows if r["target"] == INTERIOR_TARGET and r["method"] in ("climb", "regmix",
                                                                                          "planted")],
           "best_known": [{"lab": k[0], "target": k[1], "seed": k[2], "loss": v} for k, v in sorted(best.items())],
           "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.out.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(out, indent=1, default=float) + "\n")
    temporary.replace(args.out)
    print(f"\nwrote {args.out}{'' if final else ' (partial)'}: {len(rows)} rows, {sched.trained} proxies trained "
          f"({sched.reused} reused), {seconds / 60:.1f} min\n", flush=True)
    return out


def _fmt(mean: float, std: float | None = None, digits: int = 3) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    if std is None or math.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


CORPUS_NAMES = {"sources": "six sources", "ag_news": "AG News", "demo": "demo"}


def _target(lab: str, target: str) -> str:
    corpus = lab.split("/")[0]
    return f"{CORPUS_NAMES.get(corpus, corpus)}: {target}"


def print_compact(out: dict) -> None:
    """BENCHMARKS.md's short forms: per (target, budget) one row of every method's mean gap to the best-known
    mixture, and of every final rule's; the CV Spearman of CLIMB's predictor per round."""
    cells: dict[tuple, dict] = {}
    for r in out["summary"]:
        cells.setdefault((r["budget"], r["lab"], r["target"]), {})[r["method"]] = r
    methods = [m for m in MAIN if any(m in c for c in cells.values())]
    print("| target | B | " + " | ".join(methods) + " | CLIMB loss | CLIMB vs RegMix W/L/T | CLIMB within 0.1 |"
          "\n|---|---:|" + "---:|" * (len(methods) + 3))
    for (budget, lab, target), c in sorted(cells.items()):
        gaps = " | ".join(_fmt(c[m]["gap_mean"]) if m in c else "—" for m in methods)
        climb, regmix = c.get("climb"), c.get("regmix")
        record = "—" if not regmix else f"{regmix['climb_wins']}/{regmix['climb_losses']}/{regmix['climb_ties']}"
        near = "—" if not climb else f"{climb['near']}/{climb['seeds']}"
        loss = "—" if not climb else _fmt(climb["loss_mean"], climb["loss_std"])
        print(f"| {_target(lab, target)} | {budget} | {gaps} | {loss} | {record} | {near} |")
    rules = ("argmax", "topk_mean", "regularised", "best_evaluated_run", "verified")
    by_cell: dict[tuple, dict] = {}
    for r in out["final_rules"]:
        by_cell.setdefault((r["budget"], r["lab"], r["target"]), {})[r["rule"]] = r
    print("\n| target | B | " + " | ".join(rules) + " | verified chose (argmax/topk/reg/run) |\n|---|---:|"
          + "---:|" * (len(rules) + 1))
    for (budget, lab, target), c in sorted(by_cell.items()):
        gaps = " | ".join(f"{_fmt(c[x]['gap_mean'])} ({c[x]['near']}/{c[x]['seeds']})" if x in c else "—"
                          for x in rules)
        chose = "/".join(str(c[x]["chosen"]) if x in c else "0" for x in rules[:4])
        print(f"| {_target(lab, target)} | {budget} | {gaps} | {chose} |")
    rounds: dict[tuple, list] = {}
    for r in out["spearman"]:
        if r["method"] == "climb":
            rounds.setdefault((r["budget"], r["lab"], r["target"]), []).append(r)
    regmix = {(r["budget"], r["lab"], r["target"]): r for r in out["spearman"] if r["method"] == "regmix"}
    print("\n| target | B | CLIMB round 1 | round 2 | round 3 | RegMix (B + v points) |\n|---|---:|---|---|---|---|")
    def cv(r: dict | None) -> str:
        if r is None:
            return "—"
        return f"{_fmt(r['spearman_mean'], digits=2)} ({', '.join(f'{f} {n}' for f, n in r['families'].items())})"

    for key, got in sorted(rounds.items()):
        shown = [cv(r) for r in sorted(got, key=lambda r: r["round"])] + [cv(regmix.get(key))]
        print(f"| {_target(key[1], key[2])} | {key[0]} | " + " | ".join(shown) + " |")


def print_tables(out: dict) -> None:
    """The Markdown tables of BENCHMARKS.md from a results JSON."""
    print("| budget | CLIMB vs RegMix: wins / losses / ties (share of non-ties won) | CLIMB worse than uniform "
          "| CLIMB within 0.1 nat of best-known (mean gap) | World+Business answers interior |"
          "\n|---:|---:|---:|---:|---:|")
    for h in out["headline"]:
        print(f"| {h['budget']} | {h['wins']} / {h['losses']} / {h['ties']} ({_fmt(100 * h['win_share'], digits=0)}%) "
              f"| {h['worse_than_baseline']} of {h['baseline_pairs']} | {h['near']} of {h['gap_pairs']} "
              f"({_fmt(h['gap_mean'])}) | {h['interior']} of {h['interior_seeds']} |")
    print("\n| target | B | method | seeds | verified holdout loss | gap to best-known | within 0.1 "
          "| CLIMB W/L/T | weight on target | max weight |\n|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in out["summary"]:
        record = "—" if r["method"] == "climb" else f"{r['climb_wins']}/{r['climb_losses']}/{r['climb_ties']}"
        print(f"| {_target(r['lab'], r['target'])} | {r['budget']} | {r['method']} | {r['seeds']} | "
              f"{_fmt(r['loss_mean'], r['loss_std'])} | {_fmt(r['gap_mean'])} | {r['near']}/{r['seeds']} | {record} | "
              f"{_fmt(r['target_weight_mean'], digits=2)} | {_fmt(r['max_weight_mean'], digits=2)} |")
    print("\n| B | rule | pairs | mean gap to best-known | lower / higher / tie vs verified | chosen by verified |"
          "\n|---:|---|---:|---:|---:|---:|")
    for r in out["rules_overall"]:
        print(f"| {r['budget']} | {r['rule']} | {r['pairs']} | {_fmt(r['gap_mean'])} | {r['better_than_verified']} / "
              f"{r['worse_than_verified']} / {r['ties']} | {r['chosen']} |")
    print("\n| target | B | rule | seeds | verified holdout loss | gap | within 0.1 | chosen |"
          "\n|---|---:|---|---:|---:|---:|---:|---:|")
    for r in out["final_rules"]:
        print(f"| {_target(r['lab'], r['target'])} | {r['budget']} | {r['rule']} | {r['seeds']} | "
              f"{_fmt(r['loss_mean'], r['loss_std'])} | {_fmt(r['gap_mean'])} | {r['near']}/{r['seeds']} | "
              f"{'—' if r['chosen'] is None else r['chosen']} |")
    vs = {h["method"]: h for h in out.get("ablation_vs_regmix", [])}
    print("\n| variant | seeds | verified holdout loss | gap | within 0.1 | default better/worse/tie | vs RegMix W/L/T "
          "| max weight |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in out["ablation"]:
        h = vs.get(r["method"])
        record = "—" if r["method"] == "climb" else f"{r['climb_wins']}/{r['climb_losses']}/{r['climb_ties']}"
        versus = "—" if h is None else f"{h['wins']}/{h['losses']}/{h['ties']}"
        print(f"| {r['method']} | {r['seeds']} | {_fmt(r['loss_mean'], r['loss_std'])} | {_fmt(r['gap_mean'])} | "
              f"{r['near']}/{r['seeds']} | {record} | {versus} | {_fmt(r['max_weight_mean'], digits=2)} |")
    print("\n| target | B | method | round | points | CV Spearman | families chosen |"
          "\n|---|---:|---|---:|---:|---:|---|")
    for r in out["spearman"]:
        families = ", ".join(f"{f} {n}" for f, n in r["families"].items())
        print(f"| {_target(r['lab'], r['target'])} | {r['budget']} | {r['method']} | {r['round']} | {r['points']} | "
              f"{_fmt(r['spearman_mean'], r['spearman_std'])} | {families} |")
    print(f"\n| {INTERIOR_TARGET}: B | seed | method | max weight | weights | verified loss |"
          "\n|---:|---:|---|---:|---|---:|")
    for r in sorted(out["interior"], key=lambda r: (r["budget"], r["method"], r["seed"])):
        print(f"| {r['budget']} | {r['seed']} | {r['method']} | {r['max_weight']:.2f} | "
              f"{' '.join(f'{w:.2f}' for w in r['weights'])} | {r['holdout_loss']:.3f} |")


if __name__ == "__main__":
    main()
