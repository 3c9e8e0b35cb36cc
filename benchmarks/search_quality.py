"""Search quality: does CLIMB's iterative search beat one-shot RegMix and the simple baselines at equal budget?

    python benchmarks/search_quality.py [--seeds 0 1 2 3 4] [--budget 14] [--tokens 50000] [--no-ablations]
                                        [--corpora sources ag_news] [--workers 2] [--out PATH]

Corpora (../shared/data): the six-source labelled corpus (docs/test_data.md A2) and AG News (docs/test_data.md A1). Targets are text
held apart before anything is built: PubMed abstracts, GSM8K problems, a 50/50 mix of Wikipedia and the
Federalist papers (six sources) and Sports articles (AG News); each is split by document into a search half
the methods optimise and a holdout half they never see. ClimbLab per corpus: MiniLM embeddings, spherical
K-means, Ward merge at the paper's threshold 1.5, a 4k BPE, token stores (benchmarks/search_quality_data.py,
cached under benchmarks/.cache/).

Methods per (corpus, target, seed), at equal proxy budget N (= --budget, default 14): CLIMB (rounds 4:2:1 =
8/4/2, predictor argmax verified: N + 1 runs), RegMix one-shot (N random Dirichlet candidates, predictor, mean
of the top 100 of a pool, verified: N + 1), Best@N (the best of the same N random candidates by search score:
N), uniform and token-proportional (1 each), DoReMi (reference + group-DRO proxy + verification: 3; target-
agnostic), and CLIMB's own best run. CLIMB's round 1 is the first 8 of RegMix's N candidates (one draw,
trained once: a paired comparison). The seed sets the search and the proxies' initialisation and data order;
corpus, clustering and target split are fixed. Verified loss = the chosen mixture's proxy loss on the holdout.
Ablations (one target, --ablation-seeds): rounds 6:1 and 2:2:1:1 at the same total, uniform-random round 1,
and the number of super-clusters (--ablation-k). Writes benchmarks/results/search_quality.json and prints
Markdown tables.
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

from benchmarks.machine import numpy_matmul_gflops  # noqa: E402
from benchmarks.search_quality_data import CorpusSpec, TargetSpec, build_labs  # noqa: E402
from benchmarks.search_quality_lib import allocate_rounds, paired, spearman_by_round, summarise  # noqa: E402
from benchmarks.search_quality_methods import Climb, Setting, doremi, fixed, random_batch  # noqa: E402
from benchmarks.search_quality_runs import Scheduler  # noqa: E402
from benchmarks.labelled_corpora import data_dir_default  # noqa: E402
from climb.search.proxy import ProxyConfig  # noqa: E402

RESULTS, CACHE = REPO / "benchmarks" / "results", REPO / "benchmarks" / ".cache"
MAIN = ["uniform", "token_proportional", "doremi", "best_of_n", "regmix", "climb_best_run", "climb"]
TARGETS = {  # target name -> (label, documents held apart) parts
    "sources": {"pubmedqa": (("pubmedqa", 100),), "gsm8k": (("gsm8k", 150),),
                "wikitext2+federalist": (("wikitext2", 60), ("federalist_papers", 60))},
    "ag_news": {"Sports": (("Sports", 300),)},
}
log = logging.getLogger("search_quality")


def parse(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpora", nargs="+", default=["sources", "ag_news"], choices=list(TARGETS))
    p.add_argument("--targets", nargs="+", default=None, help="target names to run (default: all of each corpus)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument("--budget", type=int, default=14, help="proxy runs per search (CLIMB rounds sum to it)")
    p.add_argument("--ratio", nargs="+", type=int, default=[4, 2, 1], help="CLIMB's round allocation")
    p.add_argument("--tokens", type=int, default=50_000, help="training tokens per proxy")
    p.add_argument("--sequence-length", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--pool-size", type=int, default=20_000, help="mixtures ranked by a predictor (paper: 100k)")
    p.add_argument("--top-n", type=int, default=None, help="later rounds pick among the pool's top_n (default 1%%)")
    p.add_argument("--per-source", type=int, default=300, help="six sources: documents per source")
    p.add_argument("--ag-per-class", type=int, default=800, help="AG News: documents per class")
    p.add_argument("--max-windows", type=int, default=96, help="target windows per split")
    p.add_argument("--no-doremi", action="store_true")
    p.add_argument("--no-ablations", action="store_true")
    p.add_argument("--ablation-target", default="wikitext2+federalist")
    p.add_argument("--ablation-seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--ablation-k", nargs="+", type=int, default=[3, 10],
                   help="super-cluster counts, besides the threshold cut's own")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--cache", type=Path, default=CACHE)
    p.add_argument("--out", type=Path, default=RESULTS / "search_quality.json")
    p.add_argument("--tables", type=Path, default=None, help="only print the tables of this results JSON")
    return p.parse_args(argv)


def corpus_spec(name: str, args) -> CorpusSpec:
    wanted = {t: parts for t, parts in TARGETS[name].items() if args.targets is None or t in args.targets}
    return CorpusSpec(name=name, documents_per_label=args.per_source if name == "sources" else args.ag_per_class,
                      targets=tuple(TargetSpec(t, parts) for t, parts in wanted.items()),
                      sequence_length=args.sequence_length, max_windows=args.max_windows)


def main(argv=None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("resources").setLevel(logging.WARNING)
    args = parse(argv)
    if args.tables:
        return print_tables(json.loads(args.tables.read_text()))
    started = time.perf_counter()
    schedule = allocate_rounds(args.budget, args.ratio)
    ablation_schedules = {f"climb[{':'.join(map(str, r))}]": allocate_rounds(args.budget, r)
                          for r in ((6, 1), (2, 2, 1, 1))}
    rows: list[dict] = []
    sched = Scheduler(args.cache, args.workers)
    labs_info, ablation_labs = {}, []
    for name in args.corpora:
        spec = corpus_spec(name, args)
        ablate = not args.no_ablations and args.ablation_target in {t.name for t in spec.targets}
        cuts = (None,) + (tuple(args.ablation_k) if ablate else ())
        labs = build_labs(spec, data_dir=args.data_dir or data_dir_default(), cache=args.cache, cuts=cuts)
        main_lab, targets = labs["threshold"], [t.name for t in spec.targets]
        labs_info[main_lab.name] = {"k": len(main_lab.cluster_ids), "composition": main_lab.composition,
                                    "store_tokens": main_lab.store_tokens.tolist(), "spec": spec.__repr__()}
        labels = {t.name: {label for label, _ in t.parts} for t in spec.targets}

        def setting(lab, seed, main=True):
            proxy = ProxyConfig(preset="tiny", tokens=args.tokens, sequence_length=args.sequence_length,
                                batch_size=args.batch_size, device="cpu", seed=seed, threads=1)
            return Setting(lab, seed, proxy, args.budget, args.pool_size, args.top_n, 0.5, 4.0, labels, main)

        for seed in args.seeds:
            s = setting(main_lab, seed)
            if not args.no_doremi:
                doremi(s, sched, rows, targets)
            fixed(s, sched, rows, targets)
            random_batch(s, sched, rows, targets)
            for target in targets:
                Climb(s, sched, rows, target, schedule)
        if ablate:
            for seed in args.ablation_seeds:
                s, target = setting(main_lab, seed, main=False), args.ablation_target
                for method, rounds in ablation_schedules.items():
                    Climb(s, sched, rows, target, rounds, method=method)
                Climb(s, sched, rows, target, schedule, init="random", method="climb[random init]")
                for k in args.ablation_k:
                    lab = labs[f"k{k}"]
                    ablation_labs.append(lab.name)
                    labs_info[lab.name] = {"k": len(lab.cluster_ids), "composition": lab.composition}
                    Climb(setting(lab, seed, main=False), sched, rows, target, schedule,
                          method=f"climb[K={len(lab.cluster_ids)}]")
    sched.run()
    sched.close()
    print_tables(report(args, rows, labs_info, schedule, ablation_schedules, sched, time.perf_counter() - started))


def _fmt(mean: float, std: float) -> str:
    if mean is None or math.isnan(mean):
        return "—"
    return f"{mean:.3f} ± {std:.3f}" if not math.isnan(std) else f"{mean:.3f}"


def report(args, rows, labs_info, schedule, ablation_schedules, sched, seconds) -> dict:
    """Summaries over seeds, written with every row, the settings and the machine to args.out."""
    main_rows = [r for r in rows if r["lab"].endswith("/threshold")]
    ablation_methods = ["climb", *ablation_schedules, "climb[random init]",
                        *sorted({r["method"] for r in rows if r["method"].startswith("climb[K=")})]
    ablation_rows = [{**r, "lab": r["lab"].split("/")[0]} for r in rows
                     if r["target"] == args.ablation_target and r["seed"] in args.ablation_seeds]
    machine = {"node": platform.node(), "platform": platform.platform(), "processor": platform.processor(),
               "cpus": os.cpu_count(), "numpy_matmul_gflops": round(numpy_matmul_gflops(), 1),
               "load_average_at_end": os.getloadavg()}
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    out = {"machine": machine, "date": time.strftime("%Y-%m-%d"), "wall_seconds": round(seconds, 1),
           "command": " ".join(sys.argv), "settings": {**settings, "schedule": schedule,
                                                       "ablation_schedules": ablation_schedules},
           "proxy_runs": {"trained": sched.trained, "reused": sched.reused, "worker_seconds": round(sched.seconds, 1)},
           "labs": labs_info, "summary": summarise(main_rows, methods=MAIN),
           "ablation": summarise(ablation_rows, methods=ablation_methods), "paired": paired(main_rows),
           "spearman": spearman_by_round(main_rows, method="climb") + spearman_by_round(main_rows, method="regmix"),
           "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, default=float) + "\n")
    print(f"\nwrote {args.out}: {len(rows)} rows, {sched.trained} proxies trained ({sched.reused} reused), "
          f"{seconds / 60:.1f} min\n")
    return out


def print_tables(out: dict) -> None:
    """The Markdown tables of BENCHMARKS.md from a results JSON."""
    print("| corpus / target | method | seeds | verified holdout loss | regret | best | CLIMB wins (ties) "
          "| weight on target |\n|---|---|---:|---:|---:|---:|---:|---:|")
    for r in out["summary"]:
        print(f"| {r['lab'].split('/')[0]} / {r['target']} | {r['method']} | {r['seeds']} | "
              f"{_fmt(r['loss_mean'], r['loss_std'])} | {_fmt(r['regret_mean'], r['regret_std'])} | "
              f"{r['best_count']} | {r['climb_wins']}/{r['paired_seeds']} ({r['climb_ties']}) | "
              f"{r['target_weight_mean']:.2f} |")
    print("\n| corpus / target | a vs b | a better (ties) | loss(a) − loss(b) |\n|---|---|---:|---:|")
    for r in out["paired"]:
        print(f"| {r['lab'].split('/')[0]} / {r['target']} | {r['a']} vs {r['b']} | {r['a_wins']}/{r['seeds']} "
              f"({r['ties']}) | {r['diff_mean']:+.3f} ± {r['diff_std']:.3f} |")
    print("\n| corpus / target | method | round | points | CV Spearman | families chosen |"
          "\n|---|---|---:|---:|---:|---|")
    for r in out["spearman"]:
        print(f"| {r['lab'].split('/')[0]} / {r['target']} | {r['method']} | {r['round']} | {r['points']} | "
              f"{_fmt(r['spearman_mean'], r['spearman_std'])} | {r['families']} |")
    print("\n| ablation | seeds | verified holdout loss | regret | CLIMB 4:2:1 wins (ties) | weight on target |"
          "\n|---|---:|---:|---:|---:|---:|")
    for r in out["ablation"]:
        print(f"| {r['method']} | {r['seeds']} | {_fmt(r['loss_mean'], r['loss_std'])} | "
              f"{_fmt(r['regret_mean'], r['regret_std'])} | {r['climb_wins']}/{r['paired_seeds']} "
              f"({r['climb_ties']}) | {r['target_weight_mean']:.2f} |")


if __name__ == "__main__":
    main()
