"""Benchmark (accuracy): how few Lanczos products the LD eigenvalue check may stop after, and
when its stop above the robust ridge's target can be trusted.

:func:`bayesmix.ld.spectrum.lanczos_min_eigenvalue` stops once its low-side estimate
theta_k - e, e = theta_{k/2} - theta_k, is within tolerance, or (the robust ridge's case,
``stop_above``) once it clears the ridge's target, but never before ``min_iter`` products
(:data:`~bayesmix.ld.spectrum.MIN_ITER`). The family of LD matrices below has its smallest
eigenvalue known exactly (``numpy.linalg.eigvalsh``); each gets six random start vectors.
``--mldm LIST`` adds the independent blocks of a GCTB LD list (e.g. the two 10,000-SNP dense
blocks of ``shrunk.mldm`` from ``benchmarks/sbayes_startup.py prepare``; exact eigenvalue by
``scipy.linalg.eigh``, minutes per block).

1. Floors (session 26): per floor, ``worst_excess_by_floor``, the largest theta_k - e -
   lambda_min at any product k >= the floor (up to 40), and with the library at that floor
   ``quick_unsafe`` (with ``stop_above=0.01``, an estimate >= 0.01 where the true lambda_min
   is below 0.01, on the matrices as they are), ``full_above`` (the converged estimate above
   lambda_min), ``full_too_low`` (below it by more than the tolerance), and the mean number
   of products of the quick check. On shrunk LD the excess is negative from 6 products on,
   but on thresholded, 200 kb window and AR(1)-window LD it is positive up to 10-16 products,
   and with a floor below 20 the 900-SNP window LD of 40 people converges to an estimate above
   lambda_min (by 0.15); the floor stayed at 20. Even at 20 the excess of 1 Mb window LD
   stays positive (up to 0.31).
2. Criteria for the stop above the target (session 27; :data:`CRITERIA`). The Krylov space is
   shift-invariant, so the Ritz values of (1 - c) R + c I (unit diagonal kept) are
   (1 - c) theta_k + c: each criterion is simulated (:func:`simulate`, the library's loop)
   on the Ritz values of 300 products, for each matrix as it is and shifted to lambda_min =
   target + each of :data:`OFFSETS`. Per criterion and family: ``wrong_decisions`` (estimate
   >= target > lambda_min), ``worst_excess_stop_above`` (estimate - lambda_min at a stop
   above the target), ``worst_excess`` (at any stop), ``worst_excess_any_shift`` (over every
   k >= 20 at which the criterion admits a stop, estimate - lambda_min scaled to the copy
   with lambda_min = target; ignores a tolerance stop that could come first) and the mean and
   largest number of products, as is and shifted below and above the target.
   ``positive_excess_by_drop_ratio``: every k >= 20 with theta_k - e above lambda_min, by the
   ratio of d = theta_{k/4} - theta_{k/2} to e. ``library_check``: the library's own run
   with ``stop_above`` on the explicitly shifted matrices (plain Lanczos loses
   orthogonality, so its Ritz values differ from the shifted ones by up to ~1e-3 after 60
   products and it can stop a few products apart).

Results (results/lanczos_floor.json, with ``--mldm`` of the shrunk LD; 4,284 checks):
theta_k - e above lambda_min had d < e where it was far above (58 cases, up to 0.31: 1 Mb
window LD falling fast after 10-16 products near 0), e <= d < 2e up to 3e-5 above (172),
d >= 2e up to 0.016 above (1,528: the large ones on the second of a nearly degenerate bottom
pair). Wrong decisions: 74 with the old rule (theta_k - e >= target; up to 0.22 above
lambda_min), 16 with theta_k - 2e, none with theta_k - 3e but 67 instead of 20 products on
the shrunk blocks as they are; 2 (0.006 above lambda_min = 0.005: the bottom pair) with the
rule adopted, stop only if d > e with the bound max(e, e^2 / (d - e)), at the cost of the
old rule except on 1 Mb window LD shifted above the target (66 instead of 38 products) and
AR(1) 0.95 (42 instead of 39); requiring d >= 2e is as safe here, but the shrunk blocks sit
at d/e = 2.06-2.15 after 20 products, just above that line. The library's own runs: the
same 2 wrong decisions. The family: from the shipped 1000 Genomes subsets (chr21 and chr22,
503 people; three 2,000-SNP stretches each) shrunk LD (1 cM/Mb), window LD of 1,000 and
200 kb and GCTB-style thresholded sparse LD; window LD of simulated small panels (30-400
people) and their full (rank-deficient) LD; the 900-SNP window LD of 40 people of
tests/test_sbayes_model.py; AR(1) bands (rho 0.5-0.95, half-widths 50-1,000). All 2,000 SNPs
but that one.

Usage: python benchmarks/lanczos_floor.py [--mldm LIST]
(writes benchmarks/results/lanczos_floor.json; about 20 minutes with the shrunk blocks)
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bayesmix.ld.spectrum import (ATOL, MAX_ITER, MIN_ITER, RTOL, lanczos_min_eigenvalue,
                                  ld_block_matvec)

RESULTS = Path(__file__).resolve().parent / "results" / "lanczos_floor.json"
FLOORS = (6, 8, 10, 12, 16, 20)
TARGET = 0.01
#: lambda_min - TARGET of the shifted copies of each matrix
OFFSETS = (-0.2, -0.1, -0.05, -0.02, -0.01, -0.005, -0.002, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
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


def groups(name):
    """The family a matrix of :func:`family` belongs to, for the per-family tables."""
    for key, group in (("GCTB", "GCTB shrunk 10,000"), ("shrunk", "1000G shrunk"),
                       ("1000}", "1000G window 1 Mb"), ("200}", "1000G window 200 kb"),
                       ("sparse", "1000G sparse"), ("full", "small panel full"),
                       ("panel", "small panel window"), ("40 people", "40 people window"),
                       ("AR(1) 0.95", "AR(1) 0.95"), ("AR(1)", "AR(1) 0.5-0.9")):
        if key in name:
            return group
    raise ValueError(name)


def gctb_blocks(mldm):
    """Yield (name, matvec, n, lambda_min) of every independent block of a GCTB ``--mldm``
    list (e.g. sbayes_startup.py's ``shrunk.mldm``: 10,000-SNP dense blocks; the exact
    eigenvalue takes minutes per block)."""
    from scipy.linalg import eigh

    from bayesmix.kernels.ld_band import dense_band_block
    from bayesmix.kernels.sbayes import independent_blocks
    from bayesmix.ld.open import open_reference_ld

    ld = open_reference_ld(mldm=mldm, band=True)
    indptr, data = np.asarray(ld.indptr), np.asarray(ld.data)
    bounds = independent_blocks(indptr, ld.row_first, True)
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        block = dense_band_block(indptr, ld.row_first, data, float(ld.scale), lo, hi)
        exact = float(eigh(block, eigvals_only=True, subset_by_index=[0, 0], driver="evr")[0])
        del block
        yield f"GCTB shrunk SNPs {lo}..{hi - 1}", ld_block_matvec(ld, lo, hi), hi - lo, exact


def _octave_drops(ritz, k):
    """(theta_{k/2} - theta_k, theta_{k/4} - theta_{k/2}) of Ritz values ritz[0] = theta_1."""
    return ritz[k // 2 - 1] - ritz[k - 1], ritz[k // 4 - 1] - ritz[k // 2 - 1]


def _gate(condition):
    def bound(ritz, k):
        error, drop = _octave_drops(ritz, k)
        return error if condition(k, error, drop) else np.inf
    return bound


def _factor(c):
    return lambda ritz, k: c * _octave_drops(ritz, k)[0]


def _extrapolated(ritz, k):
    error, drop = _octave_drops(ritz, k)
    return max(error, error * error / (drop - error)) if drop > error else np.inf


#: stop_above criteria: ``bound(ritz, k)``, the error bound subtracted from theta_k before
#: comparing it with the target (inf: no stop above the target at k).
CRITERIA = {
    "old: theta_k - e >= target": _gate(lambda k, e, d: True),
    "factor 2: theta_k - 2e": _factor(2.0),
    "factor 3: theta_k - 3e": _factor(3.0),
    "old, not before 40 products": _gate(lambda k, e, d: k >= 40),
    "old, only if d >= 2e (decay >= 1/k)": _gate(lambda k, e, d: d >= 2 * e),
    "new: only if d > e, bound max(e, e^2/(d - e))": _extrapolated,
    "no stop_above (tolerance only)": lambda ritz, k: np.inf,
}
OLD, NEW = "old: theta_k - e >= target", "new: only if d > e, bound max(e, e^2/(d - e))"


def simulate(ritz, bound, target, min_iter=MIN_ITER):
    """(estimate, products, stopped above the target) of lanczos_min_eigenvalue with
    ``stop_above=target`` under the criterion ``bound``, from the Ritz values it would see."""
    for k in range(min_iter, len(ritz) + 1):
        error = ritz[k // 2 - 1] - ritz[k - 1]
        if error <= max(RTOL * abs(ritz[k - 1]), ATOL):
            return ritz[k - 1] - error, k, False
        b = bound(ritz, k)
        if ritz[k - 1] - b >= target:
            return ritz[k - 1] - b, k, True
    k = len(ritz)
    return 2 * ritz[k - 1] - ritz[k // 2 - 1], k, False


def shifted(ritz, exact, new_min):
    """Ritz values of (1 - c) R + c I (unit diagonal kept) with smallest eigenvalue new_min:
    the Krylov space is shift-invariant, so they are (1 - c) theta_k + c."""
    c = (new_min - exact) / (1 - exact)
    return (1 - c) * ritz + c, c


def ritz_values(matvec, n, seed):
    ritz = []
    lanczos_min_eigenvalue(matvec, n, rtol=0.0, atol=0.0, min_iter=MAX_ITER, max_iter=MAX_ITER,
                           seed=seed, report=lambda k, theta, _: ritz.append(theta))
    return np.array(ritz)


def floor_study(matvec, m, exact, sequences, counts, excess, products):
    """Session 26's question for one matrix: the worst excess after each floor (k <= 40) and
    the quick/full checks of the library at each floor."""
    worst = {}
    for floor in FLOORS:
        worst[floor] = max(2 * ritz[k - 1] - ritz[k // 2 - 1] - exact
                           for ritz in sequences for k in range(floor, 41))
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
    return worst


def criteria_study(group, matvec, m, exact, sequences, tables, check):
    """Every criterion on the matrix as it is and shifted to each of OFFSETS from the
    target; the library's own run (stop_above) on the shifted matrices for the new one."""
    for name, bound in CRITERIA.items():
        row = tables[name].setdefault(group, {
            "runs": 0, "wrong_decisions": 0, "worst_excess_stop_above": -np.inf,
            "worst_excess": -np.inf, "products": {"as_is": [], "below": [], "above": []},
            "worst_excess_any_shift": -np.inf})
        for ritz in sequences:
            for offset in (None,) + OFFSETS:
                new_min = exact if offset is None else TARGET + offset
                theta, _ = shifted(ritz, exact, new_min)
                value, k, above = simulate(theta, bound, TARGET)
                row["runs"] += 1
                row["wrong_decisions"] += value >= TARGET > new_min
                row["worst_excess"] = max(row["worst_excess"], value - new_min)
                if above:
                    row["worst_excess_stop_above"] = max(row["worst_excess_stop_above"],
                                                         value - new_min)
                where = ("as_is" if offset is None else "below" if offset < 0 else "above")
                row["products"][where].append(k)
            # shift-free: the excess of every admitted stop, scaled to lambda_min = target
            scale = (1 - TARGET) / (1 - exact)
            row["worst_excess_any_shift"] = max(
                [row["worst_excess_any_shift"]]
                + [(ritz[k - 1] - bound(ritz, k) - exact) * scale
                   for k in range(MIN_ITER, len(ritz) + 1) if np.isfinite(bound(ritz, k))])
    for seed, ritz in enumerate(sequences):
        for offset in OFFSETS:
            theta, c = shifted(ritz, exact, TARGET + offset)

            def shifted_matvec(x, out):
                matvec(x, out)
                out *= 1 - c
                out += c * x

            est = lanczos_min_eigenvalue(shifted_matvec, m, stop_above=TARGET, seed=seed)
            value, k, _ = simulate(theta, CRITERIA[NEW], TARGET)
            check["runs"] += 1
            check["wrong_decisions"] += est.value >= TARGET > TARGET + offset
            check["same_products"] += est.n_products == k
            check["max_estimate_difference"] = max(check["max_estimate_difference"],
                                                   abs(est.value - value))


def drop_ratio_study(exact, sequences, bins):
    """Every k >= MIN_ITER whose plain estimate theta_k - e is above lambda_min (by more than
    1e-6: not rounding), by the ratio d / e of the drops over the last two octaves: below 1,
    1-2, 2 or more."""
    for ritz in sequences:
        for k in range(MIN_ITER, len(ritz) + 1):
            error, drop = _octave_drops(ritz, k)
            excess = ritz[k - 1] - error - exact
            if excess > 1e-6:
                label = ("d < e" if drop < error else "e <= d < 2e" if drop < 2 * error
                         else "d >= 2e")
                bins[label]["count"] += 1
                bins[label]["worst_excess"] = max(bins[label]["worst_excess"], float(excess))


def summarise(rows):
    """One table row from per-family rows (or the rows of one family)."""
    products = {w: [k for r in rows for k in r["products"][w]] for w in ("as_is", "below",
                                                                       "above")}

    def worst(key):   # None: no stop above the target at all
        value = max(r[key] for r in rows)
        return None if value == -np.inf else float(value)

    return {"runs": sum(r["runs"] for r in rows),
            "wrong_decisions": int(sum(r["wrong_decisions"] for r in rows)),
            "worst_excess_stop_above": worst("worst_excess_stop_above"),
            "worst_excess": worst("worst_excess"),
            "worst_excess_any_shift": worst("worst_excess_any_shift"),
            "mean_products": {w: float(np.mean(v)) for w, v in products.items() if v},
            "max_products": {w: int(np.max(v)) for w, v in products.items() if v}}


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mldm", help="also the blocks of this GCTB --mldm list (e.g. the "
                                       "shrunk.mldm of benchmarks/sbayes_startup.py prepare)")
    args = parser.parse_args()

    counts = {k: {"quick_unsafe": 0, "full_above": 0, "full_too_low": 0} for k in FLOORS}
    excess = {k: -np.inf for k in FLOORS}
    products = {k: [] for k in FLOORS}
    tables = {name: {} for name in CRITERIA}
    bins = {label: {"count": 0, "worst_excess": 0.0}
            for label in ("d < e", "e <= d < 2e", "d >= 2e")}
    check = {"runs": 0, "wrong_decisions": 0, "same_products": 0, "max_estimate_difference": 0.0}
    matrices = []

    def matrix_set():
        for name, ld in family():
            dense = sp.csr_matrix((ld.data.astype(np.float64) * ld.scale, ld.indices,
                                   ld.indptr), shape=ld.shape).toarray()
            m = ld.shape[0]
            yield name, ld_block_matvec(ld, 0, m), m, float(np.linalg.eigvalsh(dense)[0])
        if args.mldm:
            yield from gctb_blocks(args.mldm)

    for name, matvec, m, exact in matrix_set():
        sequences = [ritz_values(matvec, m, seed) for seed in range(STARTS)]
        entry = {"name": name, "lambda_min": exact}
        if not name.startswith("GCTB"):
            worst = floor_study(matvec, m, exact, sequences, counts, excess, products)
            entry["worst_excess_by_floor"] = {str(k): v for k, v in worst.items()}
        entry["products_as_is"] = {
            criterion: [simulate(ritz, CRITERIA[criterion], TARGET)[1] for ritz in sequences]
            for criterion in (OLD, NEW)}
        criteria_study(groups(name), matvec, m, exact, sequences, tables, check)
        drop_ratio_study(exact, sequences, bins)
        matrices.append(entry)
        print(f"{name:45s} lambda_min {exact:9.4f} products as is (old/new) "
              f"{entry['products_as_is'][OLD]} / {entry['products_as_is'][NEW]}", flush=True)
    criteria = {name: {"by_family": {g: summarise([row]) for g, row in rows.items()},
                       "all": summarise(list(rows.values()))}
                for name, rows in tables.items()}
    result = {
        "machine": platform.node(), "cpus": os.cpu_count(), "target": TARGET,
        "starts_per_matrix": STARTS, "snps": M, "offsets_from_target": list(OFFSETS),
        "max_products": MAX_ITER, "mldm": args.mldm, "matrices": matrices,
        "violations_by_floor": {str(k): {n: int(v) for n, v in c.items()}
                                for k, c in counts.items()},
        "worst_excess_by_floor": {str(k): v for k, v in excess.items()},
        "mean_quick_products_by_floor": {str(k): float(np.mean(v)) for k, v in products.items()},
        "criteria": criteria,
        "positive_excess_by_drop_ratio": bins,
        "library_check": check,
    }
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("violations_by_floor", "worst_excess_by_floor",
                                             "mean_quick_products_by_floor", "library_check",
                                             "positive_excess_by_drop_ratio")},
                     indent=1))
    for name, table in criteria.items():
        print(f"\n{name}\n{'family':22s} wrong  worst(stop_above)  worst(any shift)  "
              "products: as is / below / above target (mean)")
        for group, row in list(table["by_family"].items()) + [("all", table["all"])]:
            mean = row["mean_products"]
            print(f"{group:22s} {row['wrong_decisions']:5d}  {_fmt(row['worst_excess_stop_above'])}"
                  f"  {_fmt(row['worst_excess_any_shift'])}  {mean['as_is']:6.1f} "
                  f"{mean['below']:6.1f} {mean['above']:6.1f}")


def _fmt(value):
    return f"{'-':>16s}" if value is None else f"{value:+16.4f}"


if __name__ == "__main__":
    main()
