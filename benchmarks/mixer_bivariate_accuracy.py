"""Bivariate MiXeR (fit1 x 2, then fit2) on realistic LD: rg and the shared fraction against
the truth, with and without the weak-LD sums.

Input: the data of ``benchmarks/coalescent_data.py`` (PREFIX.cohort.*, PREFIX.panel.*). Per
seed a pair of traits is drawn with ``bayesmix simulate --prior mixer2`` (causal SNPs unique
to trait 1, unique to trait 2 and shared, ``--rho12`` between the shared effects, each
chromosome its share), the GWAS of both from the cohort's own full LD (strand-unambiguous
SNPs only, as in ``benchmarks/mixer_bias_causes.py``); they are fitted with LD from the
independent 1,000-person panel at MiXeR's r2min 0.05, once with the weak-LD sums (bayesmix's
default) and once without (MiXeR's model). Truth: the realised rg of the causal effects,
sum b1 b2 / sqrt(sum b1^2 sum b2^2) over the causal SNPs (standardised effects), and the
shared fraction n12 / (n1 + n12) (``pi12_over_pi1u`` of fit2's JSON) and the Dice
coefficient 2 n12 / (n1 + n2 + 2 n12). Writes
``benchmarks/results/mixer_bivariate_accuracy.json``.

Usage: python benchmarks/mixer_bivariate_accuracy.py [--data /tmp/bayesmix-coalescent/coalescent]
       [--seeds 1 2 3] [--n-gwas 100000] [--n-causal 200 200 200] [--rho12 0.6]
       [--h2 0.2 0.2] [--references panel_ld panel_ld_noweak] [--gwas-ld-window-kb KB]
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy_sbayes_mixer import (GWAS_LD_WINDOW_HELP, coalescent_inputs,  # noqa: E402
                                   gwas_ld_options, run)
from mixer_bias_causes import unambiguous_snps, write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "mixer_bivariate_accuracy.json"
REFERENCES = (("panel r2>=0.05", "panel_ld"), ("panel r2>=0.05, no weak", "panel_ld_noweak"))


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (k < total % parts) for k in range(parts)]


def simulate_pair(cohort, work, chromosomes, args, seed) -> dict:
    """Both traits' statistics over all chromosomes, and the truth (rg, counts)."""
    prefix = work / f"pair_{seed}"
    shares = [split(k, len(chromosomes)) for k in args.n_causal]
    tables = {1: [], 2: []}
    b_std, component = [], []
    for k, chrom in enumerate(chromosomes):
        out = f"{prefix}.chr{chrom}"
        run("bayesmix", "simulate", "--bfile", cohort, "--chr", chrom, "--prior", "mixer2",
            "--h2", *[h / len(chromosomes) for h in args.h2], "--n-causal",
            *[s[k] for s in shares], "--rho12", args.rho12, "--n-gwas", args.n_gwas,
            "--ld", work / f"cohort_gwas_chr{chrom}.ld", "--extract", work / "unambiguous.snps",
            "--seed", 100 * seed + k, "--out", out)
        causal = json.loads(Path(f"{out}.truth.json").read_text())["causal"]
        b_std += causal["b_std"]
        component += causal["component"]
        for t in (1, 2):
            tables[t].append(pd.read_csv(f"{out}.trait{t}.sumstats.gz", sep="\t"))
    for t in (1, 2):
        with gzip.open(f"{prefix}.trait{t}.sumstats.gz", "wt") as fh:
            pd.concat(tables[t], ignore_index=True).to_csv(fh, sep="\t", index=False)
    b = np.asarray(b_std)
    counts = np.bincount(component, minlength=4)   # 1: trait 1 only, 2: trait 2 only, 3: both
    n1, n2, n12 = int(counts[1]), int(counts[2]), int(counts[3])
    return {"rg": float(b[:, 0] @ b[:, 1] / np.sqrt((b[:, 0] ** 2).sum() * (b[:, 1] ** 2).sum())),
            "shared_of_trait1": n12 / (n1 + n12), "dice": 2 * n12 / (n1 + n2 + 2 * n12)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/tmp/bayesmix-coalescent/coalescent")
    parser.add_argument("--work", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--n-gwas", type=int, default=100_000)
    parser.add_argument("--n-causal", type=int, nargs=3, default=[200, 200, 200],
                        help="causal SNPs unique to trait 1, unique to trait 2, shared")
    parser.add_argument("--rho12", type=float, default=0.6)
    parser.add_argument("--h2", type=float, nargs=2, default=[0.2, 0.2])
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--references", nargs="+", default=[ld for _, ld in REFERENCES],
                        choices=[ld for _, ld in REFERENCES])
    parser.add_argument("--gwas-ld-window-kb", type=int, default=None,
                        help=GWAS_LD_WINDOW_HELP)
    args = parser.parse_args(argv)

    data = Path(args.data)
    cohort, panel, work, bim, chromosomes = coalescent_inputs(data, args.work, "mixer_bivariate")
    unambiguous_snps(bim).to_csv(work / "unambiguous.snps", header=False, index=False)
    for chrom in chromosomes:
        run("bayesmix", "ld", "--bfile", cohort, "--chr", chrom,
            *gwas_ld_options(args.gwas_ld_window_kb), "--extract",
            work / "unambiguous.snps", "--no-progress", "--out", work / f"cohort_gwas_chr{chrom}.ld")
        run("bayesmix-mixer", "ld", "--bfile", panel, "--chr", chrom, "--out",
            work / f"panel_ld_chr{chrom}.ld")
        plain = work / f"panel_ld_noweak_chr{chrom}.ld"
        shutil.rmtree(plain, ignore_errors=True)
        shutil.copytree(work / f"panel_ld_chr{chrom}.ld", plain)
        for name in ("weak_ld.npy", "weak_ld_halves.npy", "weak_ld4.npy"):   # MiXeR's model
            (plain / name).unlink()

    rows = []
    for seed in args.seeds:
        truth = simulate_pair(cohort, work, chromosomes, args, seed)
        for label, ld in [r for r in REFERENCES if r[1] in args.references]:
            common = ["--ld-file", work / f"{ld}_chr@.ld", "--chr2use", ",".join(chromosomes),
                      "--seed", seed]
            started = time.perf_counter()
            fits = []
            for t in (1, 2):
                out = work / f"fit_{seed}_{ld}_t{t}"
                run("bayesmix-mixer", "fit1", "--trait1-file",
                    work / f"pair_{seed}.trait{t}.sumstats.gz", *common, "--out", out)
                fits.append(f"{out}.json")
            out = work / f"fit2_{seed}_{ld}"
            run("bayesmix-mixer", "fit2", "--trait1-file", work / f"pair_{seed}.trait1.sumstats.gz",
                "--trait2-file", work / f"pair_{seed}.trait2.sumstats.gz",
                "--trait1-params-file", fits[0], "--trait2-params-file", fits[1], *common,
                "--profile-points", 0, "--out", out)   # the pi12 profile is a figure only
            ci = json.loads(Path(f"{out}.json").read_text())["ci"]
            row = {"seed": seed, "reference": label, **{f"{k}_true": v for k, v in truth.items()},
                   "rg": ci["rg"]["point"], "shared_of_trait1": ci["pi12_over_pi1u"]["point"],
                   "dice": ci["dice"]["point"], "seconds": round(time.perf_counter() - started, 1)}
            rows.append(row)
            print(f"seed {seed} {label:24s} rg {row['rg']:+.3f} (truth {truth['rg']:+.3f})  "
                  f"shared {row['shared_of_trait1']:.3f} (truth {truth['shared_of_trait1']:.3f})  "
                  f"dice {row['dice']:.3f} (truth {truth['dice']:.3f})", flush=True)

    table = pd.DataFrame(rows)
    for key in ("rg", "shared_of_trait1", "dice"):
        table[f"{key}_error"] = table[key] - table[f"{key}_true"]
    summary = (table.groupby("reference", sort=False)
               .agg(**{f"{k}_error_{s}": (f"{k}_error", s) for k in ("rg", "shared_of_trait1",
                                                                     "dice")
                       for s in ("mean", "std")})
               .reset_index())
    result = {"what": __doc__.splitlines()[0], "machine": platform.platform(),
              "data": str(data), "n_gwas": args.n_gwas, "seeds": args.seeds,
              "n_causal": args.n_causal, "rho12": args.rho12, "h2": args.h2,
              "gwas_ld": ("cohort, whole chromosome" if args.gwas_ld_window_kb is None
                          else f"cohort, {args.gwas_ld_window_kb} kb window"),
              "fits": rows}
    write_results(args.results, result, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
