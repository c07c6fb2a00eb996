"""Benchmark: simulated GWAS. Marginal regression (bayesmix.simulate.marginal_gwas) against
plink, and summary statistics drawn from LD (simulate_gwas with n_gwas).

Regression: on the shipped chr22 subset (503 x 10,000) and on a simulated cohort (``--n`` x
``--m``, default 5,000 x 20,000, block LD), with a simulated BayesC trait and two
covariates. Times the bayesmix regression (after a warm-up call that compiles the numba
kernel), ``plink1.9 --linear`` and ``plink2 --glm`` (one thread each), and checks that the
z-scores agree with plink2's.

From LD: time of ``simulate_gwas(..., n_gwas=100_000)`` (block-diagonal LD of 200 SNPs,
built block by block) on panels of 503 x 10,000 (chr22) and ``--ld-n`` x ``--ld-m``
(default 500 x 100,000) simulated genotypes.

Prints and writes JSON to ``benchmarks/results/gwas.json``.

Usage: python benchmarks/gwas.py [--n 5000] [--m 20000] [--ld-n 500] [--ld-m 100000]
       [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bayesmix.data import example_bfile
from bayesmix.io.plink import Genotypes
from bayesmix.simulate import (draw_effects, marginal_gwas, simulate_bfile, simulate_gwas,
                               simulate_phenotypes, write_phen)

RESULTS = Path(__file__).resolve().parent / "results" / "gwas.json"


def best_time(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def run_plink(command: list[str], repeats: int) -> float | None:
    if shutil.which(command[0]) is None:
        return None
    return best_time(lambda: subprocess.run(command, check=True, capture_output=True), repeats)


def bench(label: str, prefix: Path, work: Path, repeats: int) -> dict:
    genotypes = Genotypes.open(prefix)
    rng = np.random.default_rng(1)
    effects = draw_effects("C", genotypes.heterozygosity, 0.5, rng, n_causal=100)
    trait = simulate_phenotypes(genotypes, effects, 0.5, rng=rng)
    covariates = rng.normal(size=(genotypes.n_samples, 2))
    write_phen(work / f"{label}.phen", genotypes.samples, trait.y)
    write_phen(work / f"{label}.cov", genotypes.samples, covariates)

    # the first call also compiles the numba kernel: not timed
    ours = marginal_gwas(genotypes, trait.y[:, 0], covariates=covariates)
    t_ours = best_time(lambda: marginal_gwas(genotypes, trait.y[:, 0], covariates=covariates),
                       repeats)
    common = ["--bfile", str(prefix), "--pheno", str(work / f"{label}.phen"),
              "--covar", str(work / f"{label}.cov"), "--threads", "1"]
    t_plink1 = run_plink(["plink1.9", *common, "--linear", "hide-covar", "--allow-no-sex",
                          "--out", str(work / f"{label}.p1")], repeats)
    t_plink2 = run_plink(["plink2", *common, "--glm", "hide-covar",
                          "--out", str(work / f"{label}.p2")], repeats)
    result = {"data": label, "n_samples": genotypes.n_samples, "n_snps": genotypes.n_snps,
              "bayesmix_s": t_ours, "plink1.9_linear_s": t_plink1, "plink2_glm_s": t_plink2}
    if t_plink2 is not None:
        plink = pd.read_csv(next(work.glob(f"{label}.p2*.glm.linear")), sep="\t")
        sign = np.where(plink["A1"].to_numpy() == ours["A1"].to_numpy(), 1.0, -1.0)
        diff = np.abs(plink["T_STAT"].to_numpy() - sign * ours["Z"].to_numpy())
        result["max_abs_z_diff_vs_plink2"] = float(np.nanmax(diff))
        result["max_rel_z_diff_vs_plink2"] = float(np.nanmax(diff / np.abs(ours["Z"].to_numpy())))
    return result


def bench_from_ld(label: str, prefix: Path, repeats: int) -> dict:
    genotypes = Genotypes.open(prefix)

    def run():
        return simulate_gwas(genotypes, "C", 0.5, rng=np.random.default_rng(2), pi=0.01,
                             n_gwas=100_000)

    sim = run()
    chisq = float(np.mean(sim.sumstats[0]["Z"].to_numpy() ** 2))
    return {"data": label, "n_samples": genotypes.n_samples, "n_snps": genotypes.n_snps,
            "from_ld_s": best_time(run, repeats), "n_gwas": 100_000, "mean_chisq": chisq}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="simulated cohort size")
    parser.add_argument("--m", type=int, default=20000, help="simulated SNPs")
    parser.add_argument("--ld-n", type=int, default=500, help="panel size for the LD draws")
    parser.add_argument("--ld-m", type=int, default=100_000, help="SNPs for the LD draws")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        results.append(bench("chr22", example_bfile(22), work, args.repeats))
        sim = simulate_bfile(work / "sim", args.n, args.m, rng=np.random.default_rng(0))
        results.append(bench(f"simulated_{args.n}x{args.m}", sim, work, args.repeats))
        results.append(bench_from_ld("chr22", example_bfile(22), args.repeats))
        panel = simulate_bfile(work / "panel", args.ld_n, args.ld_m, rng=np.random.default_rng(3))
        results.append(bench_from_ld(f"simulated_{args.ld_n}x{args.ld_m}", panel, args.repeats))
    for row in results:
        print(json.dumps(row))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"benchmark": "gwas", "machine": platform.node(),
                                   "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                   "results": results}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
