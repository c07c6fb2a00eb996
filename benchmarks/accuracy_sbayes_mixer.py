"""Accuracy baseline on realistic LD: SBayesC and MiXeR fit1 on a GWAS of a coalescent cohort,
with LD from an independent reference panel of the same population.

Input: the data of ``benchmarks/coalescent_data.py`` (PREFIX.cohort.*, PREFIX.panel.*).
Every step is the command a user runs:

1. LD of the PANEL, per chromosome: ``bayesmix-gctb --bfile PANEL --chr C --make-shrunk-ldm
   --gen-map MAP`` (the map: the panel .bim's SNP, bp and cM, i.e. the true recombination map,
   as users pass a HapMap map) and, with ``--ld-kinds ... sparse``, ``--make-sparse-ldm``
   (n r^2 >= 10); ``bayesmix-mixer ld --bfile PANEL --chr C --ld-window-kb 10000``
   for MiXeR.
2. Per seed: a BayesC trait on the COHORT (``bayesmix simulate --bfile COHORT --prior C
   --h2 H --n-causal K``; its GWAS is the marginal regression on the cohort's people, and
   the effects are rescaled so the cohort's genetic variance is exactly H).
3. ``bayesmix-gctb --sbayes C --mldm LIST --gwas-summary T.ma`` (an independent panel:
   not --ld-in-sample) and ``bayesmix-mixer fit1 --trait1-file T.sumstats.gz --ld-file
   PANEL_LD@ --chr2use 1-C`` (default fit sequence).

Reported per method (a fit that stops with an error, e.g. diverging, is listed under
``failed`` with its message and left out of the summaries): hsq / h2 and the number of causal SNPs (SBayesC: posterior means of hsq
and NnzSnp; MiXeR: h2 and nc), each seed's value and its mean, SD and mean relative error
against the truth (H, K). Both models drop strand-ambiguous SNPs (~17% of the simulated
ones, as in real data): each seed's truth also gives the h2 and causal count on the other
SNPs (``h2_unambiguous``, ``n_causal_unambiguous``), the part a model can see directly. Written to ``benchmarks/results/accuracy_sbayes_mixer.json``.

Usage: python benchmarks/accuracy_sbayes_mixer.py [--data /tmp/bayesmix-coalescent/coalescent]
       [--seeds 1 2 3] [--h2 0.5] [--n-causal 500] [--chain-length 3000] [--burn-in 1000]
       [--ld-kinds shrunk]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results" / "accuracy_sbayes_mixer.json"
BIN = Path(sys.executable).parent


class RunFailed(Exception):
    """A console script exited non-zero; the message is its last error line."""


def run(*argv, allow_failure: bool = False) -> float:
    """Run a bayesmix console script; its seconds. Stops with its log on failure, or with
    ``allow_failure`` raises :class:`RunFailed` (a fit that refuses or diverges is a result)."""
    start = time.perf_counter()
    done = subprocess.run([str(BIN / argv[0]), *map(str, argv[1:])], capture_output=True,
                          text=True)
    if done.returncode != 0:
        if allow_failure:
            errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
            raise RunFailed(errors[-1] if errors else done.stderr[-300:])
        sys.exit(f"{' '.join(map(str, argv))} failed:\n{done.stdout[-2000:]}\n"
                 f"{done.stderr[-2000:]}")
    return time.perf_counter() - start


def par_res(path) -> dict:
    """Posterior mean of each row of a GCTB .parRes file."""
    rows = Path(path).read_text().splitlines()[1:]
    return {r.split()[0]: float(r.split()[1]) for r in rows if r.strip()}


def unambiguous_truth(truth: dict, bim: pd.DataFrame, seed: int) -> dict:
    """The trait's truth, and the part of it on SNPs that are not strand-ambiguous: the
    models drop A/T and C/G SNPs (~17% of them), so the causal ones among them count only
    through their LD with the rest. ``h2_unambiguous`` = h2 * sum of b_std^2 over the
    unambiguous causal SNPs / sum over all causal SNPs."""
    alleles = bim.set_index("snp")[["a1", "a2"]]
    causal = pd.DataFrame({"snp": truth["causal"]["snp"],
                           "b2": np.square(truth["causal"]["b_std"])})
    pair = alleles.loc[causal["snp"]].agg("".join, axis=1).map(lambda a: "".join(sorted(a)))
    kept = ~pair.isin(["AT", "CG"]).to_numpy()
    share = causal["b2"][kept].sum() / causal["b2"].sum()
    return {"seed": seed, "h2": truth["h2"], "h2_sample": truth["h2_sample"],
            "n_causal": truth["n_causal"], "h2_unambiguous": float(truth["h2"] * share),
            "n_causal_unambiguous": int(kept.sum())}


def coalescent_inputs(data: Path, work, default_work: str):
    """(cohort prefix, panel prefix, work folder (created), the .bim table, chromosomes) of
    the data of benchmarks/coalescent_data.py at prefix ``data``."""
    cohort, panel = f"{data}.cohort", f"{data}.panel"
    work = Path(work) if work else data.parent / default_work
    work.mkdir(parents=True, exist_ok=True)
    bim = pd.read_csv(f"{panel}.bim", sep=r"\s+", header=None,
                      names=["chr", "snp", "cm", "bp", "a1", "a2"])
    return cohort, panel, work, bim, [str(c) for c in bim["chr"].unique()]


#: help of the --gwas-ld-window-kb option of the MiXeR accuracy benchmarks
GWAS_LD_WINDOW_HELP = (
    "draw the GWAS from the cohort's LD within this window instead of its whole-chromosome "
    "LD, whose sampling noise (r ~ 1/sqrt(n_cohort) between every pair of a chromosome) adds "
    "about N h2_chromosome / n_cohort to every z-score's variance, as no GWAS of N people has")


def gwas_ld_options(window_kb) -> list:
    """``bayesmix ld`` options of the cohort LD the GWAS are drawn from: the whole chromosome
    (``window_kb`` None) or pairs within ``window_kb``."""
    if window_kb is None:
        return ["--kind", "full"]
    return ["--kind", "window", "--window-kb", window_kb]


def summarise(values, truth) -> dict:
    values = np.asarray(values, dtype=np.float64)
    return {"values": values.tolist(), "truth": truth, "mean": float(values.mean()),
            "sd": float(values.std(ddof=1)) if len(values) > 1 else None,
            "mean_relative_error": float(values.mean() / truth - 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/tmp/bayesmix-coalescent/coalescent")
    parser.add_argument("--work", default=None, help="folder for LD and fits "
                        "(default: DATA's folder/accuracy)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--h2", type=float, default=0.5)
    parser.add_argument("--n-causal", type=int, default=500)
    parser.add_argument("--chain-length", type=int, default=3000)
    parser.add_argument("--burn-in", type=int, default=1000)
    parser.add_argument("--ld-kinds", nargs="+", default=["shrunk"],
                        choices=["shrunk", "sparse"])
    parser.add_argument("--skip-mixer", action="store_true")
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)

    data = Path(args.data)
    cohort, panel, work, bim, chromosomes = coalescent_inputs(data, args.work, "accuracy")
    bim[["snp", "bp", "cm"]].to_csv(work / "panel.map", sep=" ", header=False, index=False)
    seconds = {}

    # 1. LD of the panel
    ld_lists = {}
    for kind in args.ld_kinds:
        flag = {"shrunk": ["--make-shrunk-ldm", "--gen-map", work / "panel.map"],
                "sparse": ["--make-sparse-ldm"]}[kind]
        seconds[f"ld_{kind}"] = sum(
            run("bayesmix-gctb", "--bfile", panel, "--chr", c, *flag, "--out", work / "panel")
            for c in chromosomes)
        ld_lists[kind] = work / f"ldm_{kind}.txt"
        ld_lists[kind].write_text("".join(f"{work}/panel.chr{c}.ldm.{kind}\n"
                                          for c in chromosomes))
    if not args.skip_mixer:
        seconds["ld_mixer"] = sum(
            run("bayesmix-mixer", "ld", "--bfile", panel, "--chr", c, "--ld-window-kb", 10000,
                "--out",
                work / f"mixer_chr{c}.ld") for c in chromosomes)

    # 2-3. traits on the cohort, fits
    fits = {f"sbayesC_{kind}": {"hsq": [], "n_causal": [], "seconds": []}
            for kind in args.ld_kinds}
    if not args.skip_mixer:
        fits["mixer_fit1"] = {"h2": [], "n_causal": [], "seconds": []}
    truths = []
    for seed in args.seeds:
        trait = work / f"trait{seed}"
        run("bayesmix", "simulate", "--bfile", cohort, "--prior", "C", "--h2", args.h2,
            "--n-causal", args.n_causal, "--seed", seed, "--out", trait)
        truths.append(unambiguous_truth(json.loads(Path(f"{trait}.truth.json").read_text()),
                                        bim, seed))
        for kind in args.ld_kinds:
            out = work / f"sbayesC_{kind}_{seed}"
            fit = fits[f"sbayesC_{kind}"]
            try:
                t = run("bayesmix-gctb", "--sbayes", "C", "--mldm", ld_lists[kind],
                        "--gwas-summary", f"{trait}.ma", "--chain-length", args.chain_length,
                        "--burn-in", args.burn_in, "--out-freq", 0, "--seed", seed, "--out",
                        out, allow_failure=True)
            except RunFailed as failure:
                fit.setdefault("failed", []).append({"seed": seed, "error": str(failure)})
                print(f"seed {seed} SBayesC ({kind} LD): stopped: {failure}", flush=True)
                continue
            par = par_res(f"{out}.parRes")
            fit["hsq"].append(par["hsq"])
            fit["n_causal"].append(par["NnzSnp"])
            fit["seconds"].append(round(t, 1))
            print(f"seed {seed} SBayesC ({kind} LD): hsq {par['hsq']:.3f} NnzSnp "
                  f"{par['NnzSnp']:.0f} ({t:.0f} s)", flush=True)
        if not args.skip_mixer:
            out = work / f"mixer_{seed}"
            t = run("bayesmix-mixer", "fit1", "--trait1-file", f"{trait}.sumstats.gz",
                    "--ld-file", work / "mixer_chr@.ld",
                    "--chr2use", ",".join(chromosomes), "--seed", seed, "--out", out)
            ci = json.loads(Path(f"{out}.json").read_text())["ci"]
            fit = fits["mixer_fit1"]
            fit["h2"].append(ci["h2"]["point"])
            fit["n_causal"].append(ci["nc"]["point"])
            fit["seconds"].append(round(t, 1))
            print(f"seed {seed} MiXeR fit1: h2 {ci['h2']['point']:.3f} nc "
                  f"{ci['nc']['point']:.0f} ({t:.0f} s)", flush=True)

    result = {
        "what": "SBayesC and MiXeR fit1 on a GWAS of a coalescent cohort, LD from an "
                "independent panel of the same population (benchmarks/coalescent_data.py)",
        "machine": platform.platform(), "data": str(data),
        "coalescent": json.loads(Path(f"{data}.coalescent.json").read_text()),
        "trait": {"prior": "C", "h2": args.h2, "n_causal": args.n_causal,
                  "gwas": "marginal regression on the cohort"},
        "sbayes": {"chain_length": args.chain_length, "burn_in": args.burn_in},
        "truths": truths, "ld_seconds": {k: round(v, 1) for k, v in seconds.items()},
        "fits": {},
    }
    for name, fit in fits.items():
        size = "hsq" if "hsq" in fit else "h2"
        failed = fit.get("failed", [])
        finished = [t for t in truths if t["seed"] not in {f["seed"] for f in failed}]
        result["fits"][name] = {"failed": failed, "seconds": fit["seconds"]}
        if not finished:
            continue
        result["fits"][name].update({size: summarise(fit[size], args.h2),
                                     "n_causal": summarise(fit["n_causal"], args.n_causal)})
        for key, truth_key in ((size, "h2_unambiguous"), ("n_causal", "n_causal_unambiguous")):
            ratio = np.asarray(fit[key]) / [t[truth_key] for t in finished]
            result["fits"][name][key]["mean_relative_error_vs_unambiguous"] = float(
                ratio.mean() - 1)
    Path(args.results).write_text(json.dumps(result, indent=1) + "\n")
    for name, fit in result["fits"].items():
        size = "hsq" if "hsq" in fit else "h2"
        if fit["failed"]:
            print(f"{name:18s} stopped in {len(fit['failed'])} of {len(truths)} seeds")
        if size not in fit:
            continue
        print(f"{name:18s} {size} {fit[size]['mean']:.3f} (sd {fit[size]['sd'] or 0:.3f}, "
              f"truth {args.h2})  n_causal {fit['n_causal']['mean']:.0f} "
              f"(sd {fit['n_causal']['sd'] or 0:.0f}, truth {args.n_causal})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
