"""Bivariate MiXeR recovery on simulated trait pairs (shipped 1000G chr21+22 subset, 20k SNPs).

For each scenario (disjoint / partial / complete overlap, rho12 in {0, 0.5}, with and without
sample overlap) the package simulator draws effects from the 4-component prior; z-scores are
``z_t = sqrt(N) R b_t + e_t`` with R the in-sample LD (r^2 >= 0.05 within a window, the same
matrix the model uses) and noise ``e_t = X' u_t / sqrt(n)`` (so cov(e_t) is the full in-sample
LD) where corr(u_1, u_2) = rho0 models sample overlap. The univariate parameters are fitted
from each trait's z-scores, then the bivariate fit sequence runs.

Run: ``python examples/mixer_bivariate_recovery.py [--out table.json] [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy import sparse

from bayesmix.data import example_bfile
from bayesmix.inference.mle import fit_univariate
from bayesmix.inference.mle_bivariate import BivariateData, fit_bivariate
from bayesmix.io.plink import Genotypes
from bayesmix.models.mixer import MixerData
from bayesmix.simulate.effects import mixer_bivariate_effects

SCENARIOS = [
    # name, pi1 (unique), pi2 (unique), pi12, rho12
    ("disjoint", 0.01, 0.01, 0.0, 0.0),
    ("partial", 0.005, 0.005, 0.005, 0.0),
    ("complete", 0.0, 0.0, 0.01, 0.0),
    ("disjoint", 0.01, 0.01, 0.0, 0.5),
    ("partial", 0.005, 0.005, 0.005, 0.5),
    ("complete", 0.0, 0.0, 0.01, 0.5),
]


def reference_panel(chromosomes=(21, 22), window=300, r2min=0.05):
    """Standardised genotypes X (n x M, float32), H per SNP and the signed in-sample LD r
    (CSR, M x M, |r|^2 >= r2min within ``window`` SNPs of each other on a chromosome)."""
    blocks, hets, mats = [], [], []
    for chrom in chromosomes:
        g = Genotypes.open(example_bfile(chrom))
        x = g.read(standardize=True)
        p = g.snps["freq"].to_numpy()
        n, m = x.shape
        rows, cols, vals = [], [], []
        for lo in range(0, m, window):
            hi = min(m, lo + window)
            wide_hi = min(m, hi + window)
            r = (x[:, lo:hi].T @ x[:, lo:wide_hi]) / n
            i, j = np.nonzero(r * r >= r2min)
            keep = j + lo >= i + lo           # upper triangle incl. diagonal, mirrored below
            rows.append(i[keep] + lo)
            cols.append(j[keep] + lo)
            vals.append(r[i[keep], j[keep]])
        rows, cols, vals = map(np.concatenate, (rows, cols, vals))
        upper = sparse.coo_matrix((vals, (rows, cols)), shape=(m, m)).tocsr()
        full = upper + sparse.triu(upper, k=1).T
        full.setdiag(1.0)
        blocks.append(x)
        hets.append(2 * p * (1 - p))
        mats.append(full.tocsr())
    return np.hstack(blocks), np.concatenate(hets), sparse.block_diag(mats, format="csr")


def simulate_pair(panel, rng, *, pi1, pi2, pi12, rho12, h2=(0.4, 0.4), n=(50_000, 50_000),
                  rho0=0.0):
    """z-scores of two traits and the truth; see the module docstring."""
    x, het, r = panel
    effects = mixer_bivariate_effects(het, np.array(h2), rng=rng, pi1=pi1, pi2=pi2, pi12=pi12,
                                      rho12=rho12)
    b_std = effects.b_std
    u = rng.multivariate_normal([0, 0], [[1, rho0], [rho0, 1]], size=x.shape[0])
    noise = (x.T @ u) / np.sqrt(x.shape[0])
    z = np.sqrt(np.asarray(n, dtype=float)) * (r @ b_std) + noise
    return z[:, 0], z[:, 1], effects


def realised_rg(effects) -> float:
    """Genetic correlation of the drawn standardised effects (LD ignored)."""
    b = effects.b_std
    return float(b[:, 0] @ b[:, 1] / np.sqrt((b[:, 0] ** 2).sum() * (b[:, 1] ** 2).sum()))


def run_scenario(panel, ld_data: MixerData, seed, *, pi1, pi2, pi12, rho12, rho0, n=50_000,
                 sequence=("infinitesimal", "fast"), kmax=500):
    """Simulate one pair, fit both univariate models (fast) and the bivariate model."""
    rng = np.random.default_rng(seed)
    z1, z2, effects = simulate_pair(panel, rng, pi1=pi1, pi2=pi2, pi12=pi12, rho12=rho12,
                                    rho0=rho0, n=(n, n))
    data = BivariateData.from_mixer_data(ld_data, z1, z2, n, n)
    uni = [fit_univariate(d, sequence=("infinitesimal", "constrained", "fast"), n_draws=100)
           for d in (data.trait1, data.trait2)]
    fit = fit_bivariate(data, uni[0], uni[1], sequence=sequence, kmax=kmax, seed=seed,
                        compare_overlap=False, n_draws=200)
    truth = effects.params
    p = fit.params
    return {
        "true_share": pi12 / (pi1 + pi12), "share": p["pi12"] / (p["pi1"] + p["pi12"]),
        "true_rg": truth["rg_expected"], "realised_rg": realised_rg(effects), "rg": fit.rg,
        "rg_se": fit.ci["rg"]["std"], "true_rho0": rho0, "rho0": p["rho0"],
        "pi1u": [u.params["pi"] for u in uni], "true_pi1u": pi1 + pi12,
        "pi12": p["pi12"], "rho12": p["rho12"],
    }


def ld_data(panel) -> MixerData:
    """The panel's LD as univariate MiXeR data (square: tags = reference SNPs; weights 1)."""
    _, het, r = panel
    m = len(het)
    return MixerData(np.zeros(m), np.ones(m), np.ones(m), r.indptr, r.indices,
                     (r.data ** 2).astype(np.float32), het)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the table as JSON")
    parser.add_argument("--quick", action="store_true", help="one replicate, one scenario")
    parser.add_argument("--replicates", type=int, default=2)
    parser.add_argument("--full", action="store_true", help="add the full-model step")
    args = parser.parse_args(argv)
    panel = reference_panel()
    ld = ld_data(panel)
    rows = []
    scenarios = SCENARIOS[4:5] if args.quick else SCENARIOS
    for name, pi1, pi2, pi12, rho12 in scenarios:
        for rho0 in ((0.0,) if args.quick else (0.0, 0.3)):
            for rep in range(1 if args.quick else args.replicates):
                t0 = time.perf_counter()
                res = run_scenario(panel, ld, 1000 * rep + len(rows), pi1=pi1, pi2=pi2,
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
