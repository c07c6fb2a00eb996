"""Where MiXeR's univariate bias comes from on realistic LD: fit1 with LD references that
differ in one cause at a time.

Input: the data of ``benchmarks/coalescent_data.py`` (PREFIX.cohort.*, PREFIX.panel.*). The
GWAS are drawn from the cohort's own LD (``bayesmix simulate --prior mixer --n-gwas N --ld
COHORT_LD``, per chromosome, strand-unambiguous SNPs only so that every causal SNP can be a
tag; whole-chromosome LD, or within ``--gwas-ld-window-kb``), so the truth is exact: h2 =
b'Rb summed over chromosomes, and the causal count. Each
trait is then fitted (``bayesmix-mixer fit1``, default fit sequence) with these LD references:

- ``panel r2>=0.05, no weak``: an independent 1,000-person panel at MiXeR's default r2min,
  the LD below it left out (MiXeR's model: its folder without ``weak_ld.npy``);
- ``panel r2>=0.05, raw weak sums``: the same with the weak-LD sums as the panel gives them
  (bayesmix's default until the split-half calibration: the folder without
  ``weak_ld_halves.npy`` and ``weak_ld4.npy``);
- ``panel r2>=0.05, Gaussian weak``: the sums calibrated for the panel's noise
  (:mod:`bayesmix.ld.weak_ld`), their signal taken as Gaussian noise (the folder without
  ``weak_ld4.npy``: bayesmix's default until the pseudo-SNPs);
- ``panel r2>=0.05``: the same with the weak LD's signal as pseudo-SNPs that match its mean
  and variance (bayesmix's default, :func:`bayesmix.kernels.mixer.weak_pseudo_snps`);
- ``panel r2>=0.01``: pairs down to r^2 0.01 stored, the rest as weak-LD sums;
- ``cohort r2>=0.05``: the GWAS's own LD at the default r2min (no panel sampling noise);
- ``cohort r2>=0.05, no weak``: the GWAS's own LD, MiXeR's model.

Rows with the same source and r2min differ by the weak-LD sums (the truncation cause);
rows with the same r2min and model, by the panel's sampling noise in r^2
(E[r^2] = rho^2 + (1 - rho^2)^2 / n). Per trait and reference: mean and SD over seeds of h2
and of the causal count, and their mean relative errors. Writes
``benchmarks/results/mixer_bias_causes.json``.

Usage: python benchmarks/mixer_bias_causes.py [--data /tmp/bayesmix-coalescent/coalescent]
       [--seeds 1 2 3] [--n-gwas 100000] [--n-causal 20 100 600] [--references LABEL ...]
       [--traits sparse mid polygenic] [--gwas-ld-window-kb KB] [--results FILE]

The tables of docs/mixer.md: data of ``coalescent_data.py --n-cohort 5000 --n-panel 1000
--chromosomes 2 --length-mb 6 --n-snps 5000`` fitted with ``--n-causal 20 100 600``, and of
``coalescent_data.py --n-cohort 5000 --n-panel 1000 --chromosomes 4 --length-mb 12 --n-snps
20000`` with the default counts (83, 415, 2,492 causal).
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

RESULTS = Path(__file__).resolve().parent / "results" / "mixer_bias_causes.json"
# (name, share of the unambiguous SNPs causal, h2): sparse / mid / polygenic traits, 100 /
# 500 / 3,000 causal of 20,000 SNPs (20 / 100 / 600 of the ~4,200 unambiguous SNPs of a
# 5,000-SNP genome)
TRAITS = (("sparse", 0.005, 0.05), ("mid", 0.025, 0.10), ("polygenic", 0.15, 0.25))
# (label, LD source, r2min, weak-LD sums: "calibrated" (the default build), "gaussian" (without
# the fourth-moment sums: the weak LD's signal as Gaussian noise, bayesmix before the
# pseudo-SNPs), "raw" (without those and the split-half sums that calibrate them) or "none"
# (MiXeR's model))
REFERENCES = (("panel r2>=0.05, no weak", "panel", 0.05, "none"),
              ("panel r2>=0.05, raw weak sums", "panel", 0.05, "raw"),
              ("panel r2>=0.05, Gaussian weak", "panel", 0.05, "gaussian"),
              ("panel r2>=0.05", "panel", 0.05, "calibrated"),
              ("panel r2>=0.01", "panel", 0.01, "calibrated"),
              ("cohort r2>=0.05", "cohort", 0.05, "calibrated"),
              ("cohort r2>=0.05, no weak", "cohort", 0.05, "none"))
#: files of a default LD folder left out to make each weak-sum variant
DROPPED_FILES = {"calibrated": (), "gaussian": ("weak_ld4.npy",),
                 "raw": ("weak_ld_halves.npy", "weak_ld4.npy"),
                 "none": ("weak_ld.npy", "weak_ld_halves.npy", "weak_ld4.npy")}


def ld_name(source: str, r2min: float, weak: str, chrom: str) -> str:
    suffix = {"calibrated": "", "gaussian": "_gaussian", "raw": "_raw", "none": "_noweak"}[weak]
    return f"{source}_{r2min}{suffix}_chr{chrom}.ld"


def unambiguous_snps(bim: pd.DataFrame) -> pd.Series:
    pair = (bim["a1"] + bim["a2"]).map(lambda a: "".join(sorted(a)))
    return bim.loc[~pair.isin(["AT", "CG"]), "snp"]


def simulate_trait(cohort, work, chromosomes, name, n_causal, h2, n_gwas, seed) -> dict:
    """Per chromosome a share of the causal SNPs and h2 (by SNP count), GWAS statistics drawn
    from the cohort's LD (``cohort_gwas_chr*.ld``); the chromosomes' statistics joined into
    one file."""
    prefix = work / f"{name}_{seed}"
    tables, truth = [], {"h2": 0.0, "n_causal": 0}
    for k, chrom in enumerate(chromosomes):
        causal = n_causal // len(chromosomes) + (k < n_causal % len(chromosomes))
        out = f"{prefix}.chr{chrom}"
        run("bayesmix", "simulate", "--bfile", cohort, "--chr", chrom, "--prior", "mixer",
            "--h2", h2 / len(chromosomes), "--n-causal", causal, "--n-gwas", n_gwas,
            "--ld", work / f"cohort_gwas_chr{chrom}.ld", "--extract", work / "unambiguous.snps",
            "--seed", 100 * seed + k, "--out", out)
        record = json.loads(Path(f"{out}.truth.json").read_text())
        truth["h2"] += float(np.sum(record["h2"]))
        truth["n_causal"] += int(np.sum(record["n_causal"]))
        tables.append(pd.read_csv(f"{out}.sumstats.gz", sep="\t"))
    with gzip.open(f"{prefix}.sumstats.gz", "wt") as fh:
        pd.concat(tables, ignore_index=True).to_csv(fh, sep="\t", index=False)
    return truth


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/tmp/bayesmix-coalescent/coalescent")
    parser.add_argument("--work", default=None, help="folder for LD and fits "
                        "(default: next to the data)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--n-gwas", type=int, default=100_000)
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--n-causal", type=int, nargs=3, metavar=("SPARSE", "MID", "POLY"),
                        help="causal SNPs of the three traits (default: the TRAITS shares of "
                             "the unambiguous SNPs)")
    parser.add_argument("--references", nargs="+", choices=[r[0] for r in REFERENCES],
                        default=[r[0] for r in REFERENCES], help="LD references to fit with")
    parser.add_argument("--traits", nargs="+", choices=[t[0] for t in TRAITS],
                        default=[t[0] for t in TRAITS])
    parser.add_argument("--gwas-ld-window-kb", type=int, default=None, help=GWAS_LD_WINDOW_HELP)
    args = parser.parse_args(argv)

    data = Path(args.data)
    cohort, panel, work, bim, chromosomes = coalescent_inputs(data, args.work, "mixer_bias")
    unambiguous = unambiguous_snps(bim)
    unambiguous.to_csv(work / "unambiguous.snps", header=False, index=False)
    counts = args.n_causal or [round(share * len(unambiguous)) for _, share, _ in TRAITS]
    traits = [(name, count, h2) for (name, _, h2), count in zip(TRAITS, counts)
              if name in args.traits]
    wanted = [r for r in REFERENCES if r[0] in args.references]
    needed = wanted + [r for r in REFERENCES if r[3] == "calibrated" and r[0] not in
                       args.references and any(w[1:3] == r[1:3] and w[3] != "calibrated"
                                               for w in wanted)]
    seconds = {}
    for chrom in chromosomes:
        seconds[f"cohort_gwas_chr{chrom}"] = run(
            "bayesmix", "ld", "--bfile", cohort, "--chr", chrom,
            *gwas_ld_options(args.gwas_ld_window_kb), "--extract", work / "unambiguous.snps",
            "--no-progress", "--out", work / f"cohort_gwas_chr{chrom}.ld")
    for label, source, r2min, weak in sorted(needed, key=lambda ref: ref[3] != "calibrated"):
        for chrom in chromosomes:   # the default folders first: the others copy them
            folder = work / ld_name(source, r2min, weak, chrom)
            if weak == "calibrated":
                seconds[f"{label} chr{chrom}"] = run(
                    "bayesmix-mixer", "ld", "--bfile", {"panel": panel, "cohort": cohort}[source],
                    "--chr", chrom, "--r2min", r2min, "--out", folder)
            else:   # the same matrix without (some of) its weak-LD sums
                shutil.rmtree(folder, ignore_errors=True)
                shutil.copytree(work / ld_name(source, r2min, "calibrated", chrom), folder)
                for name in DROPPED_FILES[weak]:
                    (folder / name).unlink()

    rows = []
    for name, n_causal, h2 in traits:
        for seed in args.seeds:
            truth = simulate_trait(cohort, work, chromosomes, name, n_causal, h2, args.n_gwas,
                                   seed)
            for label, source, r2min, weak in wanted:
                out = work / f"fit_{name}_{seed}_{ld_name(source, r2min, weak, '')}"
                started = time.perf_counter()
                run("bayesmix-mixer", "fit1", "--trait1-file", work / f"{name}_{seed}.sumstats.gz",
                    "--ld-file", work / ld_name(source, r2min, weak, "@"), "--chr2use",
                    ",".join(chromosomes), "--seed", seed, "--out", out)
                ci = json.loads(Path(f"{out}.json").read_text())["ci"]
                rows.append({"trait": name, "seed": seed, "reference": label,
                             "h2_true": truth["h2"], "n_causal_true": truth["n_causal"],
                             "h2": ci["h2"]["point"], "n_causal": ci["nc"]["point"],
                             "seconds": round(time.perf_counter() - started, 1)})
                print(f"{name} seed {seed} {label:16s} h2 {ci['h2']['point']:.4f} "
                      f"(truth {truth['h2']:.4f})  nc {ci['nc']['point']:.0f} "
                      f"(truth {truth['n_causal']})", flush=True)

    table = pd.DataFrame(rows)
    table["h2_error"] = table["h2"] / table["h2_true"] - 1
    table["nc_error"] = table["n_causal"] / table["n_causal_true"] - 1
    summary = (table.groupby(["trait", "reference"], sort=False)
               .agg(h2_error_mean=("h2_error", "mean"), h2_error_sd=("h2_error", "std"),
                    nc_error_mean=("nc_error", "mean"), nc_error_sd=("nc_error", "std"))
               .reset_index())
    result = {"what": __doc__.splitlines()[0], "machine": platform.platform(),
              "data": str(data), "n_gwas": args.n_gwas, "seeds": args.seeds,
              "gwas_ld": ("cohort, whole chromosome" if args.gwas_ld_window_kb is None
                          else f"cohort, {args.gwas_ld_window_kb} kb window"),
              "traits": [{"name": n, "n_causal": k, "h2": h} for n, k, h in traits],
              "ld_seconds": {k: round(v, 1) for k, v in seconds.items()},
              "fits": rows}
    write_results(args.results, result, summary)
    return 0


def write_results(path, result: dict, summary: pd.DataFrame) -> None:
    """``result`` with the summary table to JSON at ``path``; the table printed."""
    result = {**result, "summary": summary.to_dict(orient="records")}
    Path(path).write_text(json.dumps(result, indent=1) + "\n")
    print(summary.to_string(index=False, float_format=lambda x: f"{x:+.3f}"))


if __name__ == "__main__":
    sys.exit(main())
