"""Benchmark: bivariate MiXeR likelihood evaluations and fits.

Synthetic block LD (:meth:`bayesmix.prepare.mixer_data.MixerData.synthetic`, blocks of 100 SNPs,
r^2 >= 0.05, square: tags = reference SNPs) at ``--small`` (default 35,000, MiXeR's fit
scale) and ``--large`` (default 1,000,000, ~HapMap3 genome) SNPs, z-scores of a pair drawn
from the model (pi1_u = pi2_u = 0.005, half shared, rho12 = 0.5, rho0 = 0.2, N = 100,000).

Timed (best of ``--repeats``, after a warm-up that compiles the numba kernels):
- fast model: logp + 9-gradient, per evaluation;
- full model: logp with K = ``--kmax`` draws (MiXeR uses 20,000), per evaluation (small only),
  first from the draws, then from their stored LD sums (:class:`bayesmix.prepare.mixer_data.
  FullDrawCache`; None when they exceed its memory limit) and the time to store them;
- fit2 with the fast sequence (infinitesimal + fast, univariate parameters fixed at the
  truth), and the full step (share profile) at K = ``--kmax-fit`` (small only).

Prints and writes JSON to ``benchmarks/results/mixer_bivariate.json``.

Usage: python benchmarks/mixer_bivariate.py [--small 35000] [--large 1000000] [--kmax 20000]
       [--kmax-fit 1000] [--repeats 3] [--results FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np

from bayesmix.inference.mle_bivariate import fit_bivariate, overlap_params
from bayesmix.models.mixer_bivariate import UnivariateParams
from bayesmix.prepare.mixer_data import BivariateData, MixerData
from bayesmix.simulate.effects import mixer_bivariate_effects

RESULTS = Path(__file__).resolve().parent / "results" / "mixer_bivariate.json"


def best_time(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def make_pair(n_snps: int, seed: int = 1, n: float = 1e5):
    rng = np.random.default_rng(seed)
    ld, r_signed = MixerData.synthetic(n_snps, rng=rng, n=n)
    effects = mixer_bivariate_effects(ld.het, np.array([0.4, 0.4]), rng=rng, pi1=0.0025,
                                      pi2=0.0025, pi12=0.0025, rho12=0.5)
    z = math.sqrt(n) * (r_signed @ effects.b_std) + rng.multivariate_normal(
        [0, 0], [[1, 0.2], [0.2, 1]], size=n_snps)
    data = BivariateData.from_mixer_data(ld, z[:, 0], z[:, 1], n, n)
    uni = [{"pi": 0.005, "sig2_beta": s, "sig2_zero": 1.0} for s in effects.params["sig2_beta"]]
    return data, uni


def bench(n_snps: int, args, *, with_full: bool) -> dict:
    t0 = time.perf_counter()
    data, uni = make_pair(n_snps)
    setup = time.perf_counter() - t0
    theta = overlap_params(*(UnivariateParams.coerce(u) for u in uni), 0.5, 0.5, 0.2)
    data.fast_logp_grad(theta)  # compile / cache load
    out = {"n_tags": n_snps, "n_ref": n_snps, "nnz": int(data.trait1.indptr[-1]),
           "setup_seconds": setup,
           "fast_eval_seconds": best_time(lambda: data.fast_logp_grad(theta), args.repeats)}
    start = time.perf_counter()
    fit = fit_bivariate(data, uni[0], uni[1], compare_overlap=False, n_draws=100)
    out["fit_fast_seconds"] = time.perf_counter() - start
    out["fit_fast_evaluations"] = sum(s.n_evals for s in fit.steps)
    out["fit_fast_share"] = fit.share
    if with_full:
        data.full_logp(theta, 10, 0)
        out["full_eval_seconds"] = best_time(lambda: data.full_logp(theta, args.kmax, 0), 1)
        out["full_kmax"] = args.kmax
        # asked again with the same causal-set sizes: the draws' LD sums are stored (when they
        # fit in FULL_DRAW_CACHE_BYTES), as at each point of fit2's pi12 profile
        start = time.perf_counter()
        data.full_logp(theta, args.kmax, 0)
        out["full_store_seconds"] = time.perf_counter() - start
        stored = data.full_draws.arrays
        out["full_stored_mb"] = (None if stored is None
                                 else sum(a.nbytes for a in stored) / 2 ** 20)
        out["full_eval_stored_seconds"] = (None if stored is None else best_time(
            lambda: data.full_logp(theta, args.kmax, 0), args.repeats))
        start = time.perf_counter()
        fit = fit_bivariate(data, uni[0], uni[1], sequence=("infinitesimal", "fast", "full"),
                            kmax=args.kmax_fit, compare_overlap=False, n_draws=100)
        out["fit_full_seconds"] = time.perf_counter() - start
        out["fit_full_kmax"] = args.kmax_fit
        out["fit_full_share"] = fit.share
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=35_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--kmax", type=int, default=20_000)
    parser.add_argument("--kmax-fit", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = {"machine": platform.processor() or platform.machine(),
               "python": platform.python_version(), "runs": []}
    for n_snps, with_full in ((args.small, True), (args.large, False)):
        row = bench(n_snps, args, with_full=with_full)
        results["runs"].append(row)
        print(json.dumps(row, indent=1), flush=True)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
