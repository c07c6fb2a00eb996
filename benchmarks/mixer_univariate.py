"""MiXeR univariate benchmark: speed/memory per likelihood evaluation and per fit, and the
recovery table (truth vs estimate, interval coverage) on sumstats simulated from LD.

    python benchmarks/mixer_univariate.py speed [--snps 35000] [--big 1000000]
    python benchmarks/mixer_univariate.py recovery [--snps 20000 --reps 5]

speed: synthetic block LD (AR(1) blocks of 100 SNPs, r^2 >= 0.05), tags = reference; times
one evaluation of each method (infinitesimal, fast, convolve with and without gradient,
full at K draws) and a whole fit, at ``--snps`` and at the ``--big`` scale (fast fit and one
convolve evaluation there). Peak resident memory is read from getrusage after each stage.
recovery: sparse (100 causal), medium (500) and polygenic (3000) architectures, N alternating
1e5 / 2e5, z = sqrt(N) R b + e with e ~ N(0, R) from bayesmix.simulate, random-pruning
weights, fit sequence infinitesimal -> constrained -> convolve.
Results print as tables and go to benchmarks/results/mixer_univariate_{speed,recovery}.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples"))

from mixer_univariate import fit_trait, make_reference, simulate_trait  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn, repeat: int = 3) -> float:
    fn()  # compile / warm caches
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def speed_at(n_snps: int, *, kmax: int, fit_methods: tuple, seed: int = 0) -> dict:
    from bayesmix.models.mixer import UnivariateLikelihood

    t0 = time.perf_counter()
    ld, data = make_reference(n_snps, seed=seed)
    data, truth = simulate_trait(ld, data, n_causal=max(10, n_snps // 40), h2=0.4,
                                 n_gwas=1.5e5, seed=seed + 1)
    setup = time.perf_counter() - t0
    theta = (truth["pi"], truth["sig2_beta"], 1.0)
    row = {"n_tags": data.n_tags, "nnz": int(data.r2.size), "setup_s": setup}
    big = n_snps > 200_000
    for method in ("infinitesimal", "fast", "convolve", "full"):
        if method == "full" and big:
            continue
        like = UnivariateLikelihood(data, method, kmax=kmax)
        repeat = 1 if big else 3
        row[f"{method}_logp_grad_s"] = timed(lambda: like.logp_grad(theta), repeat)
        if method == "convolve":
            row["convolve_logp_only_s"] = timed(lambda: like.logp(theta), repeat)
        if not big and method in ("convolve", "full"):  # does prange pay? 1 thread vs all
            import numba

            threads = numba.get_num_threads()
            numba.set_num_threads(1)
            row[f"{method}_logp_grad_1thread_s"] = timed(lambda: like.logp_grad(theta), repeat)
            numba.set_num_threads(threads)
    row["peak_rss_mb_after_evals"] = peak_rss_mb()
    for method in fit_methods:
        t0 = time.perf_counter()
        fit = fit_trait(data, sequence=("infinitesimal", "constrained", method))
        row[f"fit_{method}_s"] = time.perf_counter() - t0
        row[f"fit_{method}_evals"] = sum(s.n_evals for s in fit.steps)
        row[f"fit_{method}_h2"] = fit.ci["h2"]["point"]
    row["h2_truth"] = truth["h2"]
    row["peak_rss_mb"] = peak_rss_mb()
    return row


def speed(args) -> dict:
    import numba

    rows = [speed_at(args.snps, kmax=args.kmax, fit_methods=("fast", "convolve"))]
    if args.big:
        big_fits = ("fast", "convolve") if args.big_convolve else ("fast",)
        rows.append(speed_at(args.big, kmax=args.kmax, fit_methods=big_fits))
    for row in rows:
        print(json.dumps(row, indent=1))
    return {"rows": rows, "kmax": args.kmax, "threads": numba.get_num_threads(),
            "load_average": os.getloadavg()}


SCENARIOS = (("sparse", 100), ("medium", 500), ("polygenic", 3000))


def recovery(args) -> dict:
    from bayesmix.simulate.from_ld import LDSampler

    ld, base = make_reference(args.snps, seed=args.seed)
    sampler = LDSampler(ld.to_scipy())
    rows = []
    for name, n_causal in SCENARIOS:
        for rep in range(args.reps):
            n_gwas = 1e5 if rep % 2 == 0 else 2e5
            seed = args.seed + 1000 * n_causal + rep
            data, truth = simulate_trait(ld, base, n_causal=n_causal, h2=args.h2, n_gwas=n_gwas,
                                         seed=seed, sampler=sampler)
            t0 = time.perf_counter()
            fit = fit_trait(data, seed=seed)
            row = {"scenario": name, "rep": rep, "n_gwas": n_gwas, "seconds": time.perf_counter() - t0}
            for key in ("h2", "nc", "pi", "sig2_beta", "sig2_zero"):
                c = fit.ci[key]
                row[key] = c["point"]
                row[f"{key}_std"] = c["std"]
                row[f"{key}_truth"] = truth[key]
                row[f"{key}_covered"] = bool(c["lower"] <= truth[key] <= c["upper"])
            row["AIC"] = fit.criteria["AIC"]
            rows.append(row)
            print(f"{name:10s} rep {rep} N={n_gwas:.0e}: h2 {row['h2']:.3f} (truth {args.h2}) "
                  f"nc {row['nc']:.0f} (truth {n_causal}) s0 {row['sig2_zero']:.3f} "
                  f"[{row['seconds']:.0f}s]", flush=True)
    summary = []
    print(f"\n{'scenario':10s}{'reps':>5s}{'h2 rel.err':>12s}{'nc rel.err':>12s}"
          f"{'|h2 err|':>10s}{'|nc err|':>10s}{'h2 cover':>10s}{'nc cover':>10s}"
          f"{'h2 sd rep/emp':>16s}{'nc sd rep/emp':>16s}")
    for name, n_causal in SCENARIOS:
        sel = [r for r in rows if r["scenario"] == name]
        h2_err = np.array([r["h2"] / r["h2_truth"] - 1 for r in sel])
        nc_err = np.array([r["nc"] / r["nc_truth"] - 1 for r in sel])
        s = {"scenario": name, "n_causal": n_causal, "reps": len(sel),
             "h2_mean_rel_error": float(h2_err.mean()), "nc_mean_rel_error": float(nc_err.mean()),
             "h2_mean_abs_rel_error": float(np.abs(h2_err).mean()),
             "nc_mean_abs_rel_error": float(np.abs(nc_err).mean()),
             "h2_coverage": float(np.mean([r["h2_covered"] for r in sel])),
             "nc_coverage": float(np.mean([r["nc_covered"] for r in sel])),
             # calibration: mean reported SD (1,000 draws) vs SD of estimates over replicates
             "h2_mean_reported_sd": float(np.mean([r["h2_std"] for r in sel])),
             "h2_sd_over_reps": float(np.std([r["h2"] for r in sel], ddof=1)),
             "nc_mean_reported_sd": float(np.mean([r["nc_std"] for r in sel])),
             "nc_sd_over_reps": float(np.std([r["nc"] for r in sel], ddof=1))}
        summary.append(s)
        print(f"{name:10s}{len(sel):5d}{s['h2_mean_rel_error']:12.3f}{s['nc_mean_rel_error']:12.3f}"
              f"{s['h2_mean_abs_rel_error']:10.3f}{s['nc_mean_abs_rel_error']:10.3f}"
              f"{s['h2_coverage']:10.2f}{s['nc_coverage']:10.2f}"
              f"{s['h2_mean_reported_sd']:8.3f}/{s['h2_sd_over_reps']:<7.3f}"
              f"{s['nc_mean_reported_sd']:8.1f}/{s['nc_sd_over_reps']:<7.1f}")
    return {"rows": rows, "summary": summary, "snps": args.snps, "h2": args.h2}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["speed", "recovery"])
    parser.add_argument("--snps", type=int, default=None)
    parser.add_argument("--big", type=int, default=1_000_000, help="large-scale tags (0: skip)")
    parser.add_argument("--kmax", type=int, default=1000)
    parser.add_argument("--big-convolve", action="store_true",
                        help="also time a whole convolve fit at the --big scale (minutes)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--h2", type=float, default=0.4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")
    args = parser.parse_args(argv)
    args.snps = args.snps or (35_000 if args.mode == "speed" else 20_000)
    result = speed(args) if args.mode == "speed" else recovery(args)
    result.update(machine=platform.machine(), python=platform.python_version(),
                  cpus=os.cpu_count(), date=time.strftime("%Y-%m-%dT%H:%M:%S"))
    out = Path(args.out or HERE / "results" / f"mixer_univariate_{args.mode}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
