"""Benchmark: reading, harmonising and writing GWAS summary statistics (bayesmix.io).

Simulates ``--m`` SNPs (default 1,000,000, the size of a HapMap3 GWAS) as a gzipped
LDSC/MiXeR-style file and a matching reference table in which a third of the SNPs have swapped
alleles, a fifth are on the other strand and a third are strand-ambiguous; then times
``read_sumstats`` (gzip, tab-separated), ``harmonise`` (all rules on, by SNP id and by CHR:BP),
``write_ma`` and ``write_sumstats`` (gzip). Prints and writes JSON to
``benchmarks/results/io.json``; no timing is asserted anywhere.

Usage: python benchmarks/io.py [--m 1000000] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.io.harmonise import harmonise
from bayesmix.io.sumstats import read_sumstats, write_ma, write_sumstats

RESULTS = Path(__file__).resolve().parent / "results" / "io.json"
BASES = np.array(list("ACGT"))
COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A"}


def best_time(func, repeats: int):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def simulate(m: int, work: Path) -> tuple[Path, pd.DataFrame]:
    rng = np.random.default_rng(1)
    a1 = rng.integers(0, 4, m)
    a2 = (a1 + rng.integers(1, 4, m)) % 4
    freq = rng.uniform(0.01, 0.99, m)
    chrom = np.sort(rng.integers(1, 23, m))
    bp = rng.permutation(np.arange(1, 3 * m, 3))[:m]  # distinct positions
    ref = pd.DataFrame({"snp": [f"rs{i}" for i in range(m)], "chr": chrom.astype(str), "bp": bp,
                        "a1": BASES[a1], "a2": BASES[a2], "freq": freq})
    swap = rng.uniform(size=m) < 1 / 3
    flip = rng.uniform(size=m) < 1 / 5
    s1 = np.where(swap, ref["a2"], ref["a1"])
    s2 = np.where(swap, ref["a1"], ref["a2"])
    s1 = np.where(flip, pd.Series(s1).map(COMPLEMENT), s1)
    s2 = np.where(flip, pd.Series(s2).map(COMPLEMENT), s2)
    beta = rng.normal(0, 0.01, m)
    se = np.full(m, 0.01)
    gwas = pd.DataFrame({"SNP": ref["snp"], "CHR": chrom, "BP": bp, "A1": s1, "A2": s2,
                         "N": 100_000, "Z": beta / se, "BETA": beta, "SE": se, "P": 0.5,
                         "FRQ": np.where(swap, 1 - freq, freq)})
    path = work / "gwas.sumstats.gz"
    gwas.sample(frac=1.0, random_state=2).to_csv(path, sep="\t", index=False)
    return path, ref


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    rules = dict(min_maf=0.01, max_freq_diff=0.2, impute_n=True, exclude_mhc="hg19")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path, ref = simulate(args.m, work)
        t_read, sumstats = best_time(lambda: read_sumstats(path), args.repeats)
        t_snp, (aligned, report) = best_time(lambda: harmonise(sumstats, ref, **rules), args.repeats)
        t_pos, _ = best_time(lambda: harmonise(sumstats, ref, match_by="chrpos", **rules), args.repeats)
        t_ma, _ = best_time(lambda: write_ma(aligned, work / "out.ma"), args.repeats)
        t_gz, _ = best_time(lambda: write_sumstats(aligned, work / "out.sumstats.gz"), args.repeats)
    result = {
        "m": args.m, "kept": report.n_output, "swapped": report.n_swapped,
        "strand_flipped": report.n_strand_flipped,
        "seconds": {"read_sumstats_gz": t_read, "harmonise_by_snp": t_snp,
                    "harmonise_by_chrpos": t_pos, "write_ma": t_ma, "write_sumstats_gz": t_gz},
        "python": platform.python_version(), "machine": platform.machine(),
    }
    print(report)
    for name, seconds in result["seconds"].items():
        print(f"{name:>22}: {seconds:7.2f} s for {args.m} SNPs")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
