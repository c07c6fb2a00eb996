"""Benchmark (accuracy): how few Lanczos products the LD eigenvalue check may stop after.

:func:`bayesmix.ld.spectrum.lanczos_min_eigenvalue` stops once its low-side estimate
theta_k - (theta_{k/2} - theta_k) is within tolerance, or (the robust ridge's case,
``stop_above``) once it clears the ridge's target, but never before ``min_iter`` products
(:data:`~bayesmix.ld.spectrum.MIN_ITER`). This script runs the check at several floors on a
family of LD matrices whose smallest eigenvalue is known exactly (``numpy.linalg.eigvalsh``),
six random start vectors each, and reports per floor:

- ``worst_excess``: the largest estimate - lambda_min at any product k >= the floor (up to
  40). The Krylov space is shift-invariant, so a matrix shifted by c I has the same excess:
  a positive excess e means that the same matrix shifted to lambda_min just below the
  ridge's target (by less than e) could clear the target with the ``stop_above`` check, and
  get too small a ridge;
- ``quick_unsafe``: with ``stop_above=0.01`` (the default target), an estimate >= 0.01 where
  the true lambda_min is below 0.01, on the matrices as they are;
- ``full_above``: the converged estimate above the true lambda_min;
- ``full_too_low``: the converged estimate below it by more than the tolerance;

and the mean number of products of the quick check. Session 26 ran this to see whether the
floor of 20 could be halved (the shrunk-LD benchmark of ``benchmarks/sbayes_startup.py``
stops there after 20 products per 10,000-SNP block, 0.6 s). On shrunk LD the excess is
negative from 6 products on, but on thresholded, 200 kb window and AR(1)-window LD it is
positive up to 10-16 products, and with a floor below 20 the 900-SNP window LD of 40 people
converges to an estimate above lambda_min (by 0.15); the floor stayed at 20. Even at 20 the
excess of 1 Mb window LD stays positive (up to 0.31): window LD shifted to within 0.3 of the
target could get too small a ridge (results/lanczos_floor.json). The family: from the shipped 1000
Genomes subsets (chr21 and chr22, 503 people; three 2,000-SNP stretches each) shrunk LD
(1 cM/Mb), window LD of 1,000 and 200 kb and GCTB-style thresholded sparse LD; window LD of
simulated small panels (30-400 people) and their full (rank-deficient) LD; the 900-SNP
window LD of 40 people of tests/test_sbayes_model.py; AR(1) bands (rho 0.5-0.95,
half-widths 50-1,000). All 2,000 SNPs but that one.

Usage: python benchmarks/lanczos_floor.py   (writes benchmarks/results/lanczos_floor.json)
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

RESULTS = Path(__file__).resolve().parent / "results" / "lanczos_floor.json"
FLOORS = (6, 8, 10, 12, 16, 20)
TARGET = 0.01
STARTS = 6
M = 2000


def snp_table(m):
    return pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1", "bp": np.arange(m) + 1,
                         "a1": "A", "a2": "G", "freq": 0.3})


def family():
    """Yield (name, LDMatrix) of the matrix family (module docstring)."""
    import bayesmix.data
    from bayesmix.io.plink import Genotypes
    from bayesmix.ld import build_ld
    from bayesmix.ld.store import LDMatrix

    root = Path(bayesmix.data.__file__).parent
    for chrom in (21, 22):
        prefix = root / f"g1000_eur_chr{chrom}_sub"
        snps = Genotypes.open(prefix).snps["snp"].to_numpy()
        for offset in (0, 4000, 8000):
            genotypes = Genotypes.open(prefix, extract=set(snps[offset:offset + M]))
            for kind, options in (("shrunk", {"cm_per_mb": 1.0}), ("window", {"window_kb": 1000}),
                                  ("window", {"window_kb": 200}), ("sparse", {})):
                yield (f"chr{chrom}@{offset} {kind} {options}",
                       build_ld(genotypes, kind, dtype="int16", progress=False, **options))
    for seed in range(6):
        rng = np.random.default_rng(seed)
        n_people = int(rng.integers(30, 400))
        g = rng.normal(size=(n_people, M)).cumsum(axis=1) * 0.3 + rng.normal(size=(n_people, M))
        r = np.corrcoef(g, rowvar=False)
        window = np.abs(np.subtract.outer(np.arange(M), np.arange(M))) <= int(
            rng.integers(10, 400))
        yield (f"small panel {n_people} window",
               LDMatrix.from_scipy(np.where(window, r, 0.0), snp_table(M), dtype="int16"))
        yield f"small panel {n_people} full", LDMatrix.from_scipy(r, snp_table(M), dtype="int16")
    rng = np.random.default_rng(0)   # tests/test_sbayes_model.py's tiny panel, 900 SNPs
    g = rng.normal(size=(40, 900)).cumsum(axis=1)
    window = np.abs(np.subtract.outer(np.arange(900), np.arange(900))) <= 30
    yield ("40 people, 30-SNP window", LDMatrix.from_scipy(
        np.where(window, np.corrcoef(g, rowvar=False), 0.0), snp_table(900)))
    for rho in (0.5, 0.8, 0.9, 0.95):
        for half_width in (50, 300, 1000):
            lags = np.arange(1, half_width + 1)
            upper = sp.diags([np.full(M - k, rho ** k) for k in lags], lags, shape=(M, M))
            yield (f"AR(1) {rho} half-width {half_width}", LDMatrix.from_scipy(
                (upper + upper.T + sp.identity(M)).tocsr(), snp_table(M), dtype="int16"))


def main():
    from bayesmix.ld.spectrum import ATOL, RTOL, lanczos_min_eigenvalue, ld_block_matvec

    counts = {k: {"quick_unsafe": 0, "full_above": 0, "full_too_low": 0} for k in FLOORS}
    excess = {k: -np.inf for k in FLOORS}
    products = {k: [] for k in FLOORS}
    matrices = []
    for name, ld in family():
        dense = sp.csr_matrix((ld.data.astype(np.float64) * ld.scale, ld.indices, ld.indptr),
                              shape=ld.shape).toarray()
        exact = float(np.linalg.eigvalsh(dense)[0])
        m = ld.shape[0]
        matvec = ld_block_matvec(ld, 0, m)
        worst = {k: -np.inf for k in FLOORS}
        for seed in range(STARTS):
            ritz = []
            lanczos_min_eigenvalue(matvec, m, rtol=0.0, atol=0.0, min_iter=40, max_iter=40,
                                   seed=seed, report=lambda k, theta, _: ritz.append(theta))
            for floor in FLOORS:
                worst[floor] = max([worst[floor]] + [2 * ritz[k - 1] - ritz[k // 2 - 1] - exact
                                                     for k in range(floor, len(ritz) + 1)])
        for floor in FLOORS:
            excess[floor] = max(excess[floor], worst[floor])
            for seed in range(STARTS):
                quick = lanczos_min_eigenvalue(matvec, m, stop_above=TARGET, min_iter=floor,
                                               seed=seed)
                full = lanczos_min_eigenvalue(matvec, m, min_iter=floor, seed=seed)
                products[floor].append(quick.n_products)
                tally = counts[floor]
                tally["quick_unsafe"] += quick.value >= TARGET > exact
                tally["full_above"] += full.value > exact + 1e-9
                tally["full_too_low"] += (exact - full.value
                                          > max(RTOL * abs(exact), ATOL) * 1.05 + 1e-9)
        matrices.append({"name": name, "lambda_min": exact,
                         "worst_excess_by_floor": {str(k): v for k, v in worst.items()}})
        print(f"{name:45s} lambda_min {exact:9.4f} worst excess "
              + " ".join(f"{k}:{v:+.4f}" for k, v in worst.items()), flush=True)
    result = {
        "machine": platform.node(), "cpus": os.cpu_count(), "target": TARGET,
        "starts_per_matrix": STARTS, "snps": M, "matrices": matrices,
        "violations_by_floor": {str(k): {n: int(v) for n, v in c.items()}
                                for k, c in counts.items()},
        "worst_excess_by_floor": {str(k): v for k, v in excess.items()},
        "mean_quick_products_by_floor": {str(k): float(np.mean(v)) for k, v in products.items()},
    }
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("violations_by_floor", "worst_excess_by_floor",
                                             "mean_quick_products_by_floor")}, indent=1))


if __name__ == "__main__":
    main()
