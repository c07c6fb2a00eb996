"""Accuracy of SBayes on eigen-decomposed block LD from an independent 1,000-person panel,
next to shrunk and sparse LD of the same panel and to GCTB's own eigen model on the same files.

Input: the data of ``benchmarks/coalescent_data.py`` (PREFIX.cohort.*, PREFIX.panel.*) and the
traits of ``benchmarks/mixer_bias_causes.py`` in its work folder (``--traits``): per trait
and seed, GWAS statistics of N = 100,000 drawn per chromosome from the 5,000-person cohort's
own LD (strand-unambiguous SNPs), so the truth (h2 = b'Rb under the cohort's LD, the causal
count) is exact. Every step is the command a user runs:

1. LD of the PANEL on the GWAS's SNPs: blocks of ``--block-mb`` Mb (a GCTB block file), one
   step ``bayesmix-gctb --bfile PANEL --extract SNPS --make-ldm-eigen --block-info FILE``
   (GCTB's eigen files, cut-off 0.995); with ``--ld-kinds shrunk``/``sparse`` also
   ``--make-shrunk-ldm`` (the panel's genetic map) / ``--make-sparse-ldm`` per chromosome.
2. Per trait and seed: ``bayesmix-gctb --sbayes C|R --ldm-eigen DIR --gwas-summary T.ma``
   (defaults: the cut-off chosen from 0.995/0.99/0.95/0.9 by pseudo-validation, for R GCTB's
   five components), SBayesC at each ``--ldm-eigen-cutoff`` of ``--cutoffs``, SBayesC on the
   other LD kinds (``--mldm``), and with ``--gctb`` GCTB's ``--sbayes R --ldm-eigen DIR`` on
   the very same folder (GCTB tunes its cut-off over the same list first). ``--eigen-noise
   lambda flat`` fits every eigen configuration under both noise models (the default
   weights the noise per eigen direction; flat is SBayesRC's one level per block).

Per fit: hsq (posterior mean) and NnzSnp (SBayesC; for SBayesR every SNP outside the zero
component counts, so it is not a causal count), mean relative error and SD over seeds.
For the default fits, the cut-off chosen. A fit that stops with an error is listed under
``failed`` with its message. Writes ``benchmarks/results/sbayes_eigen_accuracy.json``.

Usage: python benchmarks/sbayes_eigen_accuracy.py [--data /tmp/bayesmix-coalescent-20k/coalescent]
       [--traits DATA_FOLDER/mixer_bias] [--seeds 1 2 3] [--methods C R] [--cutoffs 0.995 0.9]
       [--ld-kinds shrunk sparse] [--gctb /work/gctb/scr/gctb]
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy_sbayes_mixer import RunFailed, coalescent_inputs, par_res, run  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "sbayes_eigen_accuracy.json"
TRAITS = ("sparse", "mid", "polygenic")


def block_file(bim: pd.DataFrame, block_mb: float, path: Path) -> None:
    """GCTB block file of consecutive ``block_mb`` Mb blocks covering every chromosome."""
    lines, block = ["Block Chrom StartBP EndBP"], 0
    step = int(block_mb * 1e6)
    for chrom, bp in bim.groupby("chr")["bp"]:
        for start in range(0, int(bp.max()) + 1, step):
            block += 1
            lines.append(f"{block} {chrom} {start} {start + step}")
    path.write_text("\n".join(lines) + "\n")


def trait_statistics(traits: Path, name: str, seed: int, chromosomes, out: Path) -> dict:
    """Join a trait's per-chromosome .ma files; its truth summed over chromosomes."""
    tables, truth = [], {"h2": 0.0, "n_causal": 0}
    for chrom in chromosomes:
        prefix = traits / f"{name}_{seed}.chr{chrom}"
        tables.append(pd.read_csv(f"{prefix}.ma", sep=r"\s+"))
        record = json.loads(Path(f"{prefix}.truth.json").read_text())
        truth["h2"] += float(np.sum(record["h2"]))
        truth["n_causal"] += int(np.sum(record["n_causal"]))
    pd.concat(tables, ignore_index=True).to_csv(out, sep=" ", index=False)
    return truth


def gctb_fit(gctb: str, eigen: Path, ma: Path, out: Path, seed: int, length: int,
             burn_in: int) -> tuple[dict, float]:
    """GCTB's SBayesR on eigen LD; (posterior means of .parRes, seconds). GCTB exits 0 when
    its chain fails, so a missing .parRes is a failure."""
    started = time.perf_counter()
    done = subprocess.run([gctb, "--sbayes", "R", "--ldm-eigen", str(eigen), "--gwas-summary",
                           str(ma), "--chain-length", str(length), "--burn-in", str(burn_in),
                           "--seed", str(seed), "--thread", "1", "--out", str(out)],
                          capture_output=True, text=True)
    if not Path(f"{out}.parRes").exists():
        raise RunFailed((done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"])
    return par_res(f"{out}.parRes"), time.perf_counter() - started


def chosen_cutoff(log: str) -> float | None:
    """The eigen cut-off a bayesmix run chose by pseudo-validation (None: none chosen)."""
    path = Path(log)
    found = re.search(r"Eigen cut-off (\S+) chosen", path.read_text()) if path.exists() else None
    return float(found.group(1)) if found else None


def summary(values, truths) -> dict:
    values, truths = np.asarray(values, float), np.asarray(truths, float)
    errors = values / truths - 1
    return {"values": values.round(5).tolist(), "truths": truths.round(5).tolist(),
            "mean_relative_error": float(errors.mean()),
            "sd_relative_error": float(errors.std(ddof=1)) if len(errors) > 1 else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="/tmp/bayesmix-coalescent-20k/coalescent")
    parser.add_argument("--traits", default=None,
                        help="work folder of mixer_bias_causes.py (default: DATA's/mixer_bias)")
    parser.add_argument("--work", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--methods", nargs="+", default=["C", "R"])
    parser.add_argument("--cutoffs", type=float, nargs="*", default=[0.995, 0.9],
                        help="further --ldm-eigen-cutoff values (SBayesC)")
    parser.add_argument("--eigen-noise", nargs="+", default=["lambda"],
                        choices=["lambda", "flat"],
                        help="noise models of the eigen fits (bayesmix-gctb --eigen-noise); "
                             "'flat' fits are labelled so")
    parser.add_argument("--block-mb", type=float, default=1.0)
    parser.add_argument("--ld-kinds", nargs="*", default=["shrunk", "sparse"],
                        choices=["shrunk", "sparse"])
    parser.add_argument("--chain-length", type=int, default=3000)
    parser.add_argument("--burn-in", type=int, default=1000)
    parser.add_argument("--gctb", default=None)
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)

    data = Path(args.data)
    _, panel, work, bim, chromosomes = coalescent_inputs(data, args.work, "sbayes_eigen")
    traits = Path(args.traits) if args.traits else data.parent / "mixer_bias"
    snps = traits / "unambiguous.snps"
    seconds = {}
    block_file(bim, args.block_mb, work / "blocks.txt")
    eigen = work / "eigen"
    if not (eigen / "ldm.info").exists():
        seconds["eigen_ld"] = run("bayesmix-gctb", "--bfile", panel, "--extract", snps,
                                  "--make-ldm-eigen", "--block-info", work / "blocks.txt",
                                  "--out", eigen)
    bim[["snp", "bp", "cm"]].to_csv(work / "panel.map", sep=" ", header=False, index=False)
    lists = {}
    for kind in args.ld_kinds:
        flag = {"shrunk": ["--make-shrunk-ldm", "--gen-map", work / "panel.map"],
                "sparse": ["--make-sparse-ldm"]}[kind]
        lists[kind] = work / f"ldm_{kind}.txt"
        if not lists[kind].exists():
            seconds[f"{kind}_ld"] = sum(
                run("bayesmix-gctb", "--bfile", panel, "--extract", snps, "--chr", c, *flag,
                    "--out", work / "panel") for c in chromosomes)
            lists[kind].write_text("".join(f"{work}/panel.chr{c}.ldm.{kind}\n"
                                           for c in chromosomes))

    configs = []
    for noise in args.eigen_noise:
        label, flag = ("" if noise == "lambda" else ", flat noise"), ["--eigen-noise", noise]
        configs += [(f"SBayes{m} eigen (tuned cut-off{label})",
                     ["--sbayes", m, "--ldm-eigen", eigen, *flag]) for m in args.methods]
        configs += [(f"SBayesC eigen {c:g}{label}", ["--sbayes", "C", "--ldm-eigen", eigen,
                                                     "--ldm-eigen-cutoff", c, *flag])
                    for c in args.cutoffs]
    configs += [(f"SBayesC {kind}", ["--sbayes", "C", "--mldm", lists[kind]])
                for kind in args.ld_kinds]
    if args.gctb:
        configs.append(("GCTB SBayesR eigen (tuned cut-off)", None))
    fits = {label: {"records": [], "failed": []} for label, _ in configs}
    chain = ["--chain-length", args.chain_length, "--burn-in", args.burn_in, "--out-freq", 0]
    for name in TRAITS:
        for seed in args.seeds:
            ma = work / f"{name}_{seed}.ma"
            truth = trait_statistics(traits, name, seed, chromosomes, ma)
            for label, argv_ in configs:
                out = work / f"fit_{name}_{seed}_{label.replace(' ', '_')}"
                fit = fits[label]
                try:
                    if argv_ is None:
                        par, t = gctb_fit(args.gctb, eigen, ma, out, seed, args.chain_length,
                                          args.burn_in)
                    else:
                        t = run("bayesmix-gctb", *argv_, "--gwas-summary", ma, *chain,
                                "--seed", seed, "--out", out, allow_failure=True)
                        par = par_res(f"{out}.parRes")
                except RunFailed as failure:
                    fit["failed"].append({"trait": name, "seed": seed, "error": str(failure)})
                    print(f"{name} {seed} {label}: stopped: {failure}", flush=True)
                    continue
                chosen = chosen_cutoff(f"{out}.log")
                fit["records"].append({"trait": name, "seed": seed, "hsq": par["hsq"],
                                       "cutoff": chosen,
                                       "NnzSnp": par.get("NnzSnp", np.nan),
                                       "ResVar": par.get("ResVar", np.nan),
                                       "truth_h2": truth["h2"],
                                       "truth_n_causal": truth["n_causal"],
                                       "seconds": round(t, 1)})
                print(f"{name} {seed} {label}: cut-off {chosen} hsq {par['hsq']:.4f} "
                      f"(truth {truth['h2']:.4f}) "
                      f"NnzSnp {par.get('NnzSnp', float('nan')):.0f} (truth "
                      f"{truth['n_causal']}) {t:.0f} s", flush=True)

    table = {}
    for label, fit in fits.items():
        records = pd.DataFrame(fit["records"])
        rows = {}
        for name in TRAITS:
            done = records[records["trait"] == name] if len(records) else records
            if len(done):
                rows[name] = {"hsq": summary(done["hsq"], done["truth_h2"]),
                              "NnzSnp": summary(done["NnzSnp"], done["truth_n_causal"]),
                              "ResVar_mean": float(done["ResVar"].mean())}
                print(f"{label:36s} {name:10s} hsq "
                      f"{100 * rows[name]['hsq']['mean_relative_error']:+.1f}% (sd "
                      f"{100 * (rows[name]['hsq']['sd_relative_error'] or 0):.1f})  NnzSnp "
                      f"{100 * rows[name]['NnzSnp']['mean_relative_error']:+.0f}%")
        table[label] = {"traits": rows, "failed": fit["failed"], "records": fit["records"]}
    Path(args.results).write_text(json.dumps({
        "what": __doc__.splitlines()[0], "machine": platform.platform(), "data": str(data),
        "traits": str(traits), "eigen_noise": args.eigen_noise,
        "coalescent": json.loads(Path(f"{data}.coalescent.json").read_text()),
        "block_mb": args.block_mb, "chain_length": args.chain_length, "burn_in": args.burn_in,
        "ld_seconds": {k: round(v, 1) for k, v in seconds.items()}, "fits": table},
        indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
