"""Benchmark: the genome-wide pipeline on one machine, at three sizes up to ~1.1M SNPs: time and
peak memory of each stage, as a user runs it (one command per stage, CPU time and peak RSS
from the child's rusage, :func:`sbayes_startup.measured_run`; 2 threads, the machine's cores).

1. ``prepare --snps M``: a genome of M SNPs on 22 chromosomes, its reference panel and GWAS.
   The 20,000-SNP coalescent genome of ``benchmarks/coalescent_data.py`` (``--base``: 4
   chromosomes of 12 Mb, 5,000 cohort and 1,000 panel people, human demography) is tiled:
   each chromosome is a run of 12 Mb tiles, tile t of chromosome c a copy of one base
   chromosome with its people permuted (one permutation per tile, for cohort and panel
   alike), so LD within a tile is coalescent LD and tiles are independent, as distant
   regions are. PLINK filesets ``panel`` (1,000 people) and ``cohort`` (5,000 people); GWAS
   statistics of two traits for N = 100,000 drawn from the cohort's LD in blocks of 1,000 SNPs
   (``bayesmix simulate --bfile cohort --prior mixer2 --n-gwas ...``: h2 0.4 and 0.3,
   1,000 + 1,000 trait-specific and 2,000 shared causal SNPs per million, MiXeR's bivariate
   prior), and the phenotype of trait 1 on the cohort.
2. ``run``: the stages, each timed as one command (or a loop of per-chromosome commands, as
   users run MiXeR's LD):
   - ``ld_eigen``: ``bayesmix-gctb --bfile panel --make-ldm-eigen --block-info blocks.txt``
     (1 Mb blocks, GCTB's default cut-off), the LD of SBayesR;
   - ``sbayes_r``: ``bayesmix-gctb --sbayes R --ldm-eigen`` at two chain lengths
     (``--chain-lengths``), projected to 10,000 iterations through the straight line;
   - ``mixer_ld``: ``bayesmix-mixer ld --bfile panel --chr C --ld-window-kb 10000`` for
     C = 1..22 (summed);
   - ``mixer_fit1`` (trait 1 and trait 2) and ``mixer_fit2``: ``bayesmix-mixer fit1 / fit2``
     with their defaults;
   - ``bayesr``: ``bayesmix-gctb --bayes R --bfile cohort --pheno`` (5,000 people x M SNPs)
     at two short chain lengths (``--bayesr-lengths``), projected to 10,000 iterations.

Results: ``benchmarks/results/genome_wide.json``, one entry per size with every command's
exit status, CPU and wall seconds and peak memory, plus the projections.

Usage:
    python benchmarks/genome_wide.py prepare --workdir /tmp/genome_wide --snps 1100000 \\
        [--base /tmp/bayesmix-coalescent-20k/coalescent]
    python benchmarks/genome_wide.py run --workdir /tmp/genome_wide --snps 1100000 \\
        [--stages ld_eigen sbayes_r mixer_ld mixer_fit1 mixer_fit2 bayesr] \\
        [--fit2-profile-points 0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sbayes_startup import measured_run  # noqa: E402  (shared helper)

RESULTS = Path(__file__).resolve().parent / "results" / "genome_wide.json"
CHROMOSOMES = 22
TILE_BP = 12_000_000
BLOCK_BP = 1_000_000
THREADS = "2"
TWO_THREADS = {"NUMBA_NUM_THREADS": THREADS, "OMP_NUM_THREADS": THREADS,
               "MKL_NUM_THREADS": THREADS, "OPENBLAS_NUM_THREADS": THREADS}
STAGES = ("ld_eigen", "sbayes_r", "mixer_ld", "mixer_fit1", "mixer_fit2", "bayesr")


def size_dir(args) -> Path:
    return Path(args.workdir) / f"m{args.snps}"


def tile_plan(base_bim: pd.DataFrame, snps: int) -> list[tuple[int, int, str, int]]:
    """(chromosome, tile, base chromosome, SNPs of it used) for M = ``snps`` SNPs spread over
    :data:`CHROMOSOMES` chromosomes as evenly as whole base chromosomes allow."""
    bases = list(base_bim["chr"].astype(str).unique())
    per_base = base_bim["chr"].astype(str).value_counts()
    per_chromosome = np.diff(np.linspace(0, snps, CHROMOSOMES + 1).astype(int))
    plan, k = [], 0
    for c, wanted in enumerate(per_chromosome, start=1):
        t = 0
        while wanted > 0:
            base = bases[k % len(bases)]
            used = int(min(wanted, per_base[base]))
            plan.append((c, t, base, used))
            wanted -= used
            t += 1
            k += 1
    return plan


def write_tiled(base_prefix: str, out_prefix: Path, plan, seed: int) -> None:
    """The base fileset tiled by ``plan`` (module docstring), written SNP by SNP."""
    from bed_reader import create_bed, open_bed

    from bayesmix.io.plink import read_bim, read_fam

    bim, fam = read_bim(f"{base_prefix}.bim"), read_fam(f"{base_prefix}.fam")
    with open_bed(f"{base_prefix}.bed") as bed:
        genotypes = bed.read(dtype="int8")          # (people, base SNPs), -127 missing
    columns = {b: np.flatnonzero(bim["chr"].astype(str).to_numpy() == b)
               for b in bim["chr"].astype(str).unique()}
    rng = np.random.default_rng(seed)
    tables = []
    for c, t, base, used in plan:
        rows = bim.iloc[columns[base][:used]]
        tables.append(pd.DataFrame({
            "chr": str(c), "snp": [f"c{c}t{t}_{s}" for s in rows["snp"]],
            "cm": (rows["bp"].to_numpy() + t * TILE_BP) / 1e6,
            "bp": rows["bp"].to_numpy() + t * TILE_BP, "a1": rows["a1"].to_numpy(),
            "a2": rows["a2"].to_numpy()}))
    table = pd.concat(tables, ignore_index=True)
    ids = fam["iid"].astype(str).to_numpy()
    properties = {"fid": fam["fid"].astype(str).to_numpy(), "iid": ids,
                  "chromosome": table["chr"].to_numpy(), "sid": table["snp"].to_numpy(),
                  "cm_position": table["cm"].to_numpy(), "bp_position": table["bp"].to_numpy(),
                  "allele_1": table["a1"].to_numpy(), "allele_2": table["a2"].to_numpy()}
    tmp = Path(f"{out_prefix}.tmp.bed")
    with create_bed(tmp, len(fam), len(table), properties=properties,
                    fam_location=f"{out_prefix}.fam", bim_location=f"{out_prefix}.bim") as out:
        for c, t, base, used in plan:
            people = rng.permutation(len(fam))
            tile = genotypes[np.ix_(people, columns[base][:used])]
            for j in range(used):
                out.write(tile[:, j])
    os.replace(tmp, f"{out_prefix}.bed")


def block_file(bim_path: Path, path: Path) -> int:
    """GCTB's block file (``ID Chrom StartBP EndBP``): 1 Mb blocks over each chromosome."""
    bim = pd.read_csv(bim_path, sep=r"\s+", header=None, usecols=[0, 3], names=["chr", "bp"],
                      dtype={"chr": str})
    rows = []
    for chrom, group in bim.groupby("chr", sort=False):
        for start in range(0, int(group["bp"].max()) + 1, BLOCK_BP):
            rows.append((chrom, start, start + BLOCK_BP))
    with open(path, "w") as fh:
        fh.write("ID Chrom StartBP EndBP\n")
        for k, (chrom, start, end) in enumerate(rows, start=1):
            fh.write(f"{k} {chrom} {start} {end}\n")
    return len(rows)


def prepare(args) -> None:
    work = size_dir(args)
    work.mkdir(parents=True, exist_ok=True)
    from bayesmix.io.plink import read_bim

    plan = tile_plan(read_bim(f"{args.base}.panel.bim"), args.snps)
    for part in ("panel", "cohort"):
        if not Path(work / f"{part}.bed").exists():
            started = time.perf_counter()
            write_tiled(f"{args.base}.{part}", work / part, plan, seed=args.seed)
            print(f"{part}: {time.perf_counter() - started:.0f} s", flush=True)
    block_file(work / "panel.bim", work / "blocks.txt")
    if not Path(work / "gwas.trait2.ma").exists():
        scale = args.snps / 1e6
        counts = [str(max(1, round(k * scale))) for k in (1000, 1000, 2000)]
        command = [sys.executable, "-m", "bayesmix.cli.main", "simulate", "--bfile",
                   str(work / "cohort"), "--prior", "mixer2", "--h2", "0.4", "0.3",
                   "--n-causal", *counts, "--n-gwas", "100000", "100000",
                   "--ld-block-size", "1000", "--seed", str(args.seed), "--out",
                   str(work / "gwas")]
        result = measured_run(command, env=TWO_THREADS, log_path=work / "gwas.stdout")
        print(f"gwas: {json.dumps(result)}", flush=True)
        if result["exit_status"]:
            raise SystemExit(f"simulate failed: see {work / 'gwas.stdout'}")


def stage_commands(args, stage: str) -> list[tuple[str, list[str]]]:
    """(label, command) of one stage."""
    work = size_dir(args)
    py = [sys.executable, "-m"]
    gctb, mixer = py + ["bayesmix.cli.gctb"], py + ["bayesmix.cli.mixer"]
    if stage == "ld_eigen":
        return [("ld_eigen", gctb + ["--bfile", str(work / "panel"), "--make-ldm-eigen",
                                     "--block-info", str(work / "blocks.txt"), "--thread",
                                     THREADS, "--out", str(work / "ldm_eigen")])]
    if stage == "sbayes_r":
        return [(f"sbayes_r_{length}", gctb + [
            "--sbayes", "R", "--ldm-eigen", str(work / "ldm_eigen"), "--gwas-summary",
            str(work / "gwas.trait1.ma"), "--chain-length", str(length), "--burn-in",
            str(length // 5), "--thread", THREADS, "--out", str(work / f"sbayes_r_{length}")])
            for length in args.chain_lengths]
    if stage == "mixer_ld":
        (work / "mixer_ld").mkdir(exist_ok=True)
        return [(f"mixer_ld_chr{c}", mixer + ["ld", "--bfile", str(work / "panel"), "--chr",
                                                str(c), "--ld-window-kb", "10000",
                                                "--threads", THREADS, "--out",
                                                str(work / "mixer_ld" / f"chr{c}")])
                for c in range(1, CHROMOSOMES + 1)]
    if stage == "mixer_fit1":
        return [(f"mixer_fit1_trait{k}", mixer + [
            "fit1", "--trait1-file", str(work / f"gwas.trait{k}.sumstats.gz"), "--ld-file",
            str(work / "mixer_ld" / "chr@"), "--threads", THREADS, "--out",
            str(work / f"fit1_trait{k}")]) for k in (1, 2)]
    if stage == "mixer_fit2":
        return [("mixer_fit2", mixer + [
            "fit2", "--trait1-file", str(work / "gwas.trait1.sumstats.gz"), "--trait2-file",
            str(work / "gwas.trait2.sumstats.gz"), "--trait1-params-file",
            str(work / "fit1_trait1.json"), "--trait2-params-file",
            str(work / "fit1_trait2.json"), "--ld-file", str(work / "mixer_ld" / "chr@"),
            *([] if args.fit2_profile_points is None
              else ["--profile-points", str(args.fit2_profile_points)]),
            "--threads", THREADS, "--out", str(work / "fit2")])]
    if stage == "bayesr":
        return [(f"bayesr_{length}", gctb + [
            "--bayes", "R", "--bfile", str(work / "cohort"), "--pheno", str(work / "gwas.phen"),
            "--chain-length", str(length), "--burn-in", str(length // 5), "--thin", "1",
            "--thread", THREADS, "--out", str(work / f"bayesr_{length}")])
            for length in args.bayesr_lengths]
    raise ValueError(stage)


def projected(first: dict, second: dict, lengths, target: int = 10_000) -> dict:
    """Start-up and per-iteration cost from two chain lengths, and a ``target``-long run."""
    (l1, l2) = lengths
    per_iteration = (second["cpu_s"] - first["cpu_s"]) / (l2 - l1)
    wall_per_iteration = (second["wall_s"] - first["wall_s"]) / (l2 - l1)
    startup = first["cpu_s"] - l1 * per_iteration
    return {"startup_cpu_s": startup, "cpu_s_per_iteration": per_iteration,
            f"cpu_s_{target}": startup + target * per_iteration,
            f"wall_s_{target}": first["wall_s"] + (target - l1) * wall_per_iteration,
            "peak_gb": max(first["peak_gb"], second["peak_gb"])}


def run(args) -> None:
    work = size_dir(args)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    entry = results.setdefault(str(args.snps), {"commands": {}})
    for stage in args.stages:
        for label, command in stage_commands(args, stage):
            result = measured_run(command, env=TWO_THREADS, log_path=work / f"{label}.stdout")
            result["command"] = " ".join(command[2:])
            entry["commands"][label] = result
            print(json.dumps({"label": label, **{k: result[k] for k in (
                "exit_status", "cpu_s", "wall_s", "peak_gb")}}), flush=True)
            save(results, entry, args)
            if result["exit_status"]:
                print(f"{label} failed: see {work / f'{label}.stdout'}", flush=True)
                break
    save(results, entry, args)


def save(results: dict, entry: dict, args) -> None:
    """Per-stage totals and projections next to the commands; write the JSON."""
    commands = entry["commands"]
    stages = {}
    ld = [v for k, v in commands.items() if k.startswith("mixer_ld_chr")]
    if ld:
        stages["mixer_ld"] = {"chromosomes": len(ld), "cpu_s": sum(v["cpu_s"] for v in ld),
                              "wall_s": sum(v["wall_s"] for v in ld),
                              "peak_gb": max(v["peak_gb"] for v in ld)}
    for stage, lengths in (("sbayes_r", args.chain_lengths), ("bayesr", args.bayesr_lengths)):
        runs = [commands.get(f"{stage}_{length}") for length in lengths]
        if all(r and r["exit_status"] == 0 for r in runs):
            stages[stage] = projected(*runs, lengths)
    for label in ("ld_eigen", "mixer_fit1_trait1", "mixer_fit1_trait2", "mixer_fit2"):
        if label in commands:
            stages[label] = {k: commands[label][k] for k in ("cpu_s", "wall_s", "peak_gb",
                                                              "exit_status")}
    entry.update(stages=stages, snps=args.snps, threads=int(THREADS),
                 machine={"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "python": sys.version.split()[0]},
                 when=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["prepare", "run"])
    parser.add_argument("--workdir", default="/tmp/genome_wide")
    parser.add_argument("--snps", type=int, default=1_100_000)
    parser.add_argument("--base", default="/tmp/bayesmix-coalescent-20k/coalescent")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--chain-lengths", nargs=2, type=int, default=[500, 2000])
    parser.add_argument("--bayesr-lengths", nargs=2, type=int, default=[10, 50])
    parser.add_argument("--fit2-profile-points", type=int, default=None,
                        help="fit2's --profile-points (default: the command's, 25)")
    args = parser.parse_args()
    (prepare if args.step == "prepare" else run)(args)


if __name__ == "__main__":
    main()
