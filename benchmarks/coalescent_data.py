"""Benchmark data: a coalescent cohort and an independent reference panel at accuracy-work
scale, with their LD summarised.

Runs ``bayesmix simulate --coalescent`` (default: 4 chromosomes of 12 Mb, 10,000 cohort and
1,000 panel people, human demography, MAF >= 0.01, thinned to 20,000 SNPs: ~1 SNP per 2.4 kb,
about HapMap3's density) and times it. Then, per chromosome, the squared correlations of all
SNP pairs within 1 Mb, in the panel and in the cohort, averaged by distance bin (the LD decay
curve; real HapMap3 data in Europeans: mean r^2 ~0.2-0.3 under 10 kb, falling to ~0.01-0.02
beyond 500 kb), and how far the panel's r departs from the cohort's (sampling error of a
1,000-person reference). Also the MAF spectrum and the share of strand-ambiguous SNPs.

Writes the data under ``--data-dir`` (default /tmp/bayesmix-coalescent: PREFIX.cohort.*,
PREFIX.panel.*, not kept in the repository) and the summary to
``benchmarks/results/coalescent_data.json``.

Usage: python benchmarks/coalescent_data.py [--data-dir DIR] [--n-cohort 10000]
       [--n-panel 1000] [--chromosomes 4] [--length-mb 12] [--n-snps 20000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "coalescent_data.json"
#: distance bins (kb) of the LD decay summary
BINS_KB = (0, 10, 50, 100, 250, 500, 1000)


def standardised(genotypes: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit variance (float32; genotypes are A1 counts)."""
    x = genotypes.astype(np.float32)
    x -= x.mean(axis=0)
    x /= x.std(axis=0)
    return x


def ld_by_distance(panel: np.ndarray, cohort: np.ndarray, bp: np.ndarray) -> dict:
    """Pairs within 1 Mb of one chromosome: sums of r^2 (panel, cohort), of |r_panel -
    r_cohort| and pair counts per :data:`BINS_KB` bin, over blocks of 1,000 SNPs."""
    xp, xc = standardised(panel), standardised(cohort)
    edges = np.asarray(BINS_KB) * 1000
    sums = {k: np.zeros(len(edges) - 1) for k in ("panel", "cohort", "abs_diff", "pairs")}
    m, block = len(bp), 1000
    for start in range(0, m, block):
        stop = min(start + block, m)
        reach = np.searchsorted(bp, bp[stop - 1] + edges[-1], side="right")
        rp = xp[:, start:stop].T @ xp[:, start:reach] / len(xp)
        rc = xc[:, start:stop].T @ xc[:, start:reach] / len(xc)
        i, j = np.nonzero(np.ones_like(rp, dtype=bool))
        later = start + i < start + j  # pairs i < j (j indexes from start)
        i, j = i[later], j[later]
        distance = bp[start + j] - bp[start + i]
        which = np.searchsorted(edges, distance, side="right") - 1
        inside = (which >= 0) & (which < len(edges) - 1)
        i, j, which = i[inside], j[inside], which[inside]
        sums["panel"] += np.bincount(which, rp[i, j] ** 2, minlength=len(edges) - 1)
        sums["cohort"] += np.bincount(which, rc[i, j] ** 2, minlength=len(edges) - 1)
        sums["abs_diff"] += np.bincount(which, np.abs(rp[i, j] - rc[i, j]),
                                        minlength=len(edges) - 1)
        sums["pairs"] += np.bincount(which, minlength=len(edges) - 1)
    return sums


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="/tmp/bayesmix-coalescent")
    parser.add_argument("--prefix", default="coalescent")
    parser.add_argument("--n-cohort", type=int, default=10_000)
    parser.add_argument("--n-panel", type=int, default=1_000)
    parser.add_argument("--chromosomes", type=int, default=4)
    parser.add_argument("--length-mb", type=float, default=12.0)
    parser.add_argument("--n-snps", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)

    from bed_reader import open_bed

    from bayesmix.cli.main import main as bayesmix

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    out = data_dir / args.prefix
    start = time.perf_counter()
    rc = bayesmix(["simulate", "--coalescent", "--n-cohort", str(args.n_cohort),
                   "--n-panel", str(args.n_panel), "--chromosomes", str(args.chromosomes),
                   "--length-mb", str(args.length_mb), "--n-snps", str(args.n_snps),
                   "--seed", str(args.seed), "--out", str(out)])
    seconds = time.perf_counter() - start
    if rc != 0:
        return rc
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    made = json.loads(Path(f"{out}.coalescent.json").read_text())

    bim = pd.read_csv(f"{out}.cohort.bim", sep=r"\s+", header=None,
                      names=["chr", "snp", "cm", "bp", "a1", "a2"])
    start = time.perf_counter()
    totals = None
    maf = []
    for chrom in bim["chr"].unique():
        cols = np.flatnonzero(bim["chr"].to_numpy() == chrom)
        index = np.s_[:, cols[0]:cols[-1] + 1]
        panel = open_bed(f"{out}.panel.bed").read(index=index, dtype="int8")
        cohort = open_bed(f"{out}.cohort.bed").read(index=index, dtype="int8")
        freq = np.concatenate([panel, cohort]).mean(axis=0) / 2
        maf.append(np.minimum(freq, 1 - freq))
        sums = ld_by_distance(panel, cohort, bim["bp"].to_numpy()[cols])
        totals = sums if totals is None else {k: totals[k] + v for k, v in sums.items()}
    ld_seconds = time.perf_counter() - start
    maf = np.concatenate(maf)
    ambiguous = {frozenset("AT"), frozenset("CG")}
    n_ambiguous = sum(frozenset((a, b)) in ambiguous for a, b in zip(bim["a1"], bim["a2"]))
    bins = [f"{lo}-{hi} kb" for lo, hi in zip(BINS_KB[:-1], BINS_KB[1:])]
    result = {
        "what": "bayesmix simulate --coalescent at accuracy-work scale, and its LD",
        "machine": platform.platform(), "python": sys.version.split()[0],
        "command_seconds": round(seconds, 1), "peak_rss_mb": round(peak_rss_mb),
        "ld_summary_seconds": round(ld_seconds, 1),
        "data": str(out), "settings": {k: made[k] for k in (
            "n_cohort", "n_panel", "chromosomes", "length_mb", "n_snps", "maf", "seed",
            "demography", "recombination_map")},
        "per_chromosome": made["per_chromosome"],
        "n_snps": len(bim),
        "snps_per_mb": round(len(bim) / (args.chromosomes * args.length_mb), 1),
        "maf_share": {"<0.05": float(np.mean(maf < 0.05)), "0.05-0.2": float(
            np.mean((maf >= 0.05) & (maf < 0.2))), ">=0.2": float(np.mean(maf >= 0.2))},
        "strand_ambiguous_share": n_ambiguous / len(bim),
        "ld_by_distance": {
            b: {"pairs": int(n), "mean_r2_panel": float(p / n), "mean_r2_cohort": float(c / n),
                "mean_abs_r_panel_minus_cohort": float(d / n)}
            for b, n, p, c, d in zip(bins, totals["pairs"], totals["panel"], totals["cohort"],
                                     totals["abs_diff"])},
    }
    Path(args.results).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
