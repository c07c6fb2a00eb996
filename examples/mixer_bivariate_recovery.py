"""Bivariate MiXeR recovery on simulated trait pairs (shipped 1000G chr21+22 subset, 20k SNPs).

For each scenario (disjoint / partial / complete overlap, rho12 in {0, 0.5}, with and without
sample overlap) the package simulator draws effects from the 4-component prior
(:func:`bayesmix.simulate.effects.mixer_bivariate_effects`) and z-scores from the LD
(:class:`bayesmix.simulate.from_ld.LDSampler`: z = sqrt(N) R b + e, e ~ N(0, R),
cov(e_1, e_2) = rho0 R) with R the block-diagonal in-sample LD of the panel (blocks of 200
SNPs, r^2 >= 0.05 kept). The model sees the same R (as r^2) with random-pruning weights (64
passes, r^2 0.1).
Each trait is fitted univariately (fast model), then the bivariate fit sequence runs.

Reported truth: the overlap share pi12 / (pi1 + pi12) of the prior, the prior rg and the
realised rg of the drawn effects (b1'R b2 / sqrt(b1'R b1 b2'R b2), what the data carry).

Run: ``python examples/mixer_bivariate_recovery.py [--out table.json] [--quick] [--full]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy import sparse

from bayesmix.data import example_bfile
from bayesmix.inference.mle import fit_univariate
from bayesmix.inference.mle_bivariate import fit_bivariate, realised_genetic_correlation
from bayesmix.io.plink import Genotypes
from bayesmix.ld.pruning import random_pruning_weights
from bayesmix.ld.store import LDMatrix
from bayesmix.prepare.mixer_data import BivariateData, MixerData
from bayesmix.simulate.effects import mixer_bivariate_effects
from bayesmix.simulate.from_ld import LDSampler, block_diagonal_ld

SCENARIOS = [
    # name, pi1 (unique), pi2 (unique), pi12, rho12
    ("disjoint", 0.01, 0.01, 0.0, 0.0),
    ("partial", 0.005, 0.005, 0.005, 0.0),
    ("complete", 0.0, 0.0, 0.01, 0.0),
    ("disjoint", 0.01, 0.01, 0.0, 0.5),
    ("partial", 0.005, 0.005, 0.005, 0.5),
    ("complete", 0.0, 0.0, 0.01, 0.5),
]


def reference_panel(chromosomes=(21, 22), block_size=200, r2min=0.05):
    """(LDSampler of the LD R, MixerData of R as r^2 with pruning weights).

    R is the block-diagonal in-sample LD with r^2 < ``r2min`` set to 0 (MiXeR's threshold;
    in 503 people such r are mostly sampling noise, |r| ~ 0.045): simulation and model use
    the same matrix (negative eigenvalues of the thresholded blocks are clipped by the
    sampler, see ``LDSampler.clipped``)."""
    mats, snps = [], []
    for chrom in chromosomes:
        genotypes = Genotypes.open(example_bfile(chrom))
        mats.append(block_diagonal_ld(genotypes, block_size))
        snps.append(genotypes.snps)
    import pandas as pd

    r = sparse.block_diag(mats, format="csr")
    r.data[r.data.astype(np.float64) ** 2 < r2min] = 0.0
    r.eliminate_zeros()
    r.sort_indices()
    table = pd.concat(snps, ignore_index=True)
    weights = random_pruning_weights(LDMatrix.from_scipy(r, table), seed=1)
    freq = table["freq"].to_numpy()
    m = len(freq)
    data = MixerData(np.zeros(m), np.ones(m), weights, r.indptr, r.indices,
                     (r.data ** 2).astype(np.float32), 2 * freq * (1 - freq), table)
    return LDSampler(r), data


def simulate_pair(sampler, het, rng, *, pi1, pi2, pi12, rho12, h2=(0.4, 0.4),
                  n=(50_000, 50_000), rho0=0.0):
    """z-scores (M, 2) of two traits and their :class:`Effects`; see the module docstring."""
    effects = mixer_bivariate_effects(het, np.array(h2), rng=rng, pi1=pi1, pi2=pi2, pi12=pi12,
                                      rho12=rho12)
    z = sampler.zscores(effects.b_std, np.asarray(n, dtype=float), rng=rng, rho0=rho0)
    return z, effects


def run_scenario(sampler, ld_data: MixerData, seed, *, pi1, pi2, pi12, rho12, rho0,
                 n=50_000, sequence=("infinitesimal", "fast"), kmax=500):
    """Simulate one pair, fit both univariate models (fast) and the bivariate model."""
    rng = np.random.default_rng(seed)
    z, effects = simulate_pair(sampler, ld_data.het, rng, pi1=pi1, pi2=pi2, pi12=pi12,
                               rho12=rho12, rho0=rho0, n=(n, n))
    data = BivariateData.from_mixer_data(ld_data, z[:, 0], z[:, 1], n, n)
    uni = [fit_univariate(d, sequence=("infinitesimal", "constrained", "fast"), n_draws=100)
           for d in (data.trait1, data.trait2)]
    fit = fit_bivariate(data, uni[0], uni[1], sequence=sequence, kmax=kmax, seed=seed,
                        compare_overlap=False, n_draws=200)
    truth = effects.params
    p = fit.params
    return {
        "true_share": pi12 / (pi1 + pi12), "share": p["pi12"] / (p["pi1"] + p["pi12"]),
        "true_rg": truth["rg_expected"],
        "realised_rg": realised_genetic_correlation(effects.b_std, sampler.matrix),
        "rg": fit.rg,
        "rg_se": fit.ci["rg"]["std"], "true_rho0": rho0, "rho0": p["rho0"],
        "pi1u": [u.params["pi"] for u in uni], "true_pi1u": pi1 + pi12,
        "pi12": p["pi12"], "rho12": p["rho12"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the table as JSON")
    parser.add_argument("--quick", action="store_true", help="one replicate, one scenario")
    parser.add_argument("--replicates", type=int, default=2)
    parser.add_argument("--full", action="store_true", help="add the full-model step")
    args = parser.parse_args(argv)
    sampler, ld = reference_panel()
    rows = []
    scenarios = SCENARIOS[4:5] if args.quick else SCENARIOS
    for name, pi1, pi2, pi12, rho12 in scenarios:
        for rho0 in ((0.0,) if args.quick else (0.0, 0.3)):
            for rep in range(1 if args.quick else args.replicates):
                t0 = time.perf_counter()
                res = run_scenario(sampler, ld, 1000 * rep + len(rows), pi1=pi1, pi2=pi2,
                                   pi12=pi12, rho12=rho12, rho0=rho0,
                                   sequence=("infinitesimal", "fast", "full") if args.full
                                   else ("infinitesimal", "fast"))
                res.update(scenario=name, rho12_true=rho12, replicate=rep,
                           seconds=time.perf_counter() - t0)
                rows.append(res)
                print(f"{name:9s} rho12={rho12:.1f} rho0={rho0:.1f} rep={rep} "
                      f"share {res['true_share']:.2f} -> {res['share']:.3f}  "
                      f"rg {res['true_rg']:.2f} ({res['realised_rg']:.2f}) -> {res['rg']:.3f}"
                      f"  rho0 -> {res['rho0']:.3f}"
                      f"  ({res['seconds']:.1f} s)", flush=True)
    err_share = np.mean([abs(r["share"] - r["true_share"]) for r in rows])
    err_rg = np.mean([abs(r["rg"] - r["true_rg"]) for r in rows])
    err_rg_real = np.mean([abs(r["rg"] - r["realised_rg"]) for r in rows])
    print(f"mean |share error| = {err_share:.3f}   mean |rg error| = {err_rg:.3f} (prior rg), "
          f"{err_rg_real:.3f} (realised rg)")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"rows": rows, "mean_abs_share_error": err_share,
                       "mean_abs_rg_error": err_rg, "mean_abs_realised_rg_error": err_rg_real},
                      fh, indent=1)
    return rows


if __name__ == "__main__":
    main()
