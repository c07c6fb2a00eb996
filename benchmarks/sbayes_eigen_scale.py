"""Benchmark: SBayes on eigen-decomposed block LD at 20k, 200k and ~1M SNPs: whole-run CPU time,
start-up, time per iteration and peak memory of ``bayesmix-gctb --sbayes C|R --ldm-eigen``
(and of GCTB's ``--sbayes R --ldm-eigen`` on the same files with ``--gctb``).

1. ``prepare``: LD blocks of real shape, tiled to the sizes users run. The 1 Mb blocks of one
   chromosome of a coalescent reference panel (``--panel``, from
   ``benchmarks/coalescent_data.py``; 1,000 people) are eigen-decomposed at GCTB's default
   cut-off 0.995 (``bayesmix-gctb --bfile PANEL --chr C --make-ldm-eigen --block-info``), then
   repeated with new SNP ids over 22 chromosomes until each size is reached, and written in
   GCTB's eigen format (``ldm.info``, ``snp.info``, ``block<ID>.eigen.bin``). The GWAS
   statistics of each size are drawn from the eigen model itself: b* = R beta + e,
   e ~ N(0, R / n) through the kept eigenpairs, n = 100,000, 1% of SNPs causal, h2 0.3.
2. ``run``: per size, method and chain length (``--chain-lengths``, burn-in a fifth) one
   process per tool with one thread (numba, BLAS and OpenMP limited to 1), CPU time and peak
   RSS from its rusage (:func:`sbayes_startup.measured_run`). Start-up and per-iteration
   costs are the straight line through the two chain lengths.

Results: ``benchmarks/results/sbayes_eigen_scale.json``.

Usage:
    python benchmarks/sbayes_eigen_scale.py prepare --panel /tmp/bayesmix-coalescent-20k/coalescent.panel \\
        --workdir /tmp/sbayes_eigen_scale [--sizes 20000 200000 1000000]
    python benchmarks/sbayes_eigen_scale.py run --workdir /tmp/sbayes_eigen_scale \\
        [--methods C R] [--chain-lengths 200 1000] [--gctb /work/gctb/scr/gctb]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sbayes_startup import measured_run  # noqa: E402  (shared helper)

RESULTS = Path(__file__).resolve().parent / "results" / "sbayes_eigen_scale.json"
N_GWAS, CAUSAL_SHARE, H2 = 100_000, 0.01, 0.3


def tiled_eigen(base, size: int):
    """``base`` (EigenBlocks) repeated over 22 chromosomes until ``size`` SNPs (whole blocks;
    new SNP ids, positions shifted by 20 Mb per repeat within a chromosome)."""
    from dataclasses import replace

    from bayesmix.ld.eigen import EigenBlocks

    tiles = []
    for t in range(max(1, round(size / int(base.block_ptr[-1])))):
        table = base.snps.copy()
        table["snp"] = [f"t{t}_{s}" for s in table["snp"]]
        table["chr"] = str(1 + t % 22)
        table["bp"] = table["bp"] + 20_000_000 * (t // 22)
        tiles.append(replace(base, snps=table, meta=dict(
            base.meta, blocks=[t * base.n_blocks + i + 1 for i in range(base.n_blocks)])))
    return EigenBlocks.concatenate(tiles)


def simulated_statistics(eigen, path: Path, seed: int = 1) -> None:
    """A .ma of a GWAS drawn from the eigen model of ``eigen`` (module docstring)."""
    rng = np.random.default_rng(seed)
    m = int(eigen.block_ptr[-1])
    causal = rng.random(m) < CAUSAL_SHARE
    beta = np.where(causal, rng.normal(0.0, 1.0, m), 0.0)
    b_std = np.empty(m)
    genetic = 0.0
    for b in range(eigen.n_blocks):
        lo, hi = eigen.block_ptr[b], eigen.block_ptr[b + 1]
        values, vectors = eigen.block(b)
        u = vectors.astype(np.float64)
        fitted = u @ (values * (u.T @ beta[lo:hi]))
        genetic += float(beta[lo:hi] @ fitted)
        b_std[lo:hi] = fitted
    scale = np.sqrt(H2 / genetic)
    for b in range(eigen.n_blocks):
        lo, hi = eigen.block_ptr[b], eigen.block_ptr[b + 1]
        values, vectors = eigen.block(b)
        noise = vectors.astype(np.float64) @ (np.sqrt(values / N_GWAS)
                                              * rng.standard_normal(len(values)))
        b_std[lo:hi] = b_std[lo:hi] * scale + noise
    freq = eigen.snps["freq"].to_numpy()
    het = 2 * freq * (1 - freq)
    se = np.sqrt((1 - b_std**2) / (N_GWAS * het))
    beta_pa = b_std / np.sqrt(het)
    from scipy.stats import norm

    pd.DataFrame({"SNP": eigen.snps["snp"], "A1": eigen.snps["a1"], "A2": eigen.snps["a2"],
                  "freq": freq.round(4), "b": beta_pa, "se": se,
                  "p": 2 * norm.sf(np.abs(beta_pa / se)), "N": N_GWAS}).to_csv(
        path, sep=" ", index=False, float_format="%.6g")


def prepare(args) -> None:
    from bayesmix.ld.gctb_eigen import read_gctb_eigen, write_gctb_eigen

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    base_dir = work / "base"
    if not base_dir.exists():
        bim = pd.read_csv(f"{args.panel}.bim", sep=r"\s+", header=None)
        bp = bim.loc[bim[0].astype(str) == args.chrom, 3]
        edges = np.arange(0, bp.max() + 1_000_001, 1_000_000)
        lines = ["Block Chrom StartBP EndBP"] + [
            f"{i + 1} {args.chrom} {a} {b}" for i, (a, b) in enumerate(zip(edges[:-1], edges[1:]))]
        (work / "blocks.txt").write_text("\n".join(lines) + "\n")
        subprocess.run([str(Path(sys.executable).parent / "bayesmix-gctb"), "--bfile",
                        args.panel, "--chr", args.chrom, "--make-ldm-eigen", "--block-info",
                        str(work / "blocks.txt"), "--out", str(base_dir)], check=True)
    base = read_gctb_eigen(base_dir)
    for size in args.sizes:
        folder = work / f"eigen_{size}"
        if folder.exists():
            continue
        eigen = tiled_eigen(base, size)
        simulated_statistics(eigen, work / f"gwas_{size}.ma")
        write_gctb_eigen(eigen, folder)
        print(f"{size}: {len(eigen.snps)} SNPs in {eigen.n_blocks} blocks, "
              f"{int(eigen.rank_ptr[-1])} eigenvectors", flush=True)


def run(args) -> None:
    work = Path(args.workdir)
    runs = []
    sizes = sorted(int(p.name.split("_")[1]) for p in work.glob("eigen_*"))
    tools = [("bayesmix", [sys.executable, "-m", "bayesmix.cli.gctb"])]
    if args.gctb:
        tools.append(("gctb", [args.gctb]))
    for size in sizes:
        for method in args.methods:
            for tool, command in tools:
                if tool == "gctb" and method != "R":
                    continue  # GCTB's eigen models are SBayesR and SBayesRC
                for length in args.chain_lengths:
                    out = work / "runs" / f"{tool}_{method}_{size}_{length}"
                    out.parent.mkdir(exist_ok=True)
                    Path(f"{out}.parRes").unlink(missing_ok=True)
                    result = measured_run(
                        [*command, "--sbayes", method, "--ldm-eigen", str(work / f"eigen_{size}"),
                         "--gwas-summary", str(work / f"gwas_{size}.ma"), "--chain-length",
                         str(length), "--burn-in", str(length // 5), "--thread", "1",
                         "--out", str(out)], log_path=f"{out}.stdout", cwd=work)
                    result.update(tool=tool, method=method, snps=size, chain_length=length,
                                  ok=result["exit_status"] == 0
                                  and Path(f"{out}.parRes").exists())
                    if result["ok"]:
                        rows = Path(f"{out}.parRes").read_text().splitlines()[1:]
                        result["hsq"] = next(float(r.split()[1]) for r in rows
                                             if r.split() and r.split()[0] == "hsq")
                    print(json.dumps({k: result.get(k) for k in (
                        "tool", "method", "snps", "chain_length", "ok", "cpu_s", "peak_gb",
                        "hsq")}), flush=True)
                    runs.append(result)
    costs = []
    for size in sizes:
        for method in args.methods:
            for tool, _ in tools:
                done = [r for r in runs if (r["snps"], r["method"], r["tool"]) == (size, method, tool)
                        and r["ok"]]
                if len(done) < 2:
                    continue
                lengths = np.array([r["chain_length"] for r in done], float)
                cpu = np.array([r["cpu_s"] for r in done])
                slope, intercept = np.polyfit(lengths, cpu, 1)
                costs.append({"tool": tool, "method": method, "snps": size,
                              "startup_cpu_s": round(float(intercept), 2),
                              "ms_per_iteration": round(1e3 * float(slope), 3),
                              "peak_gb": round(max(r["peak_gb"] for r in done), 3)})
                print(json.dumps(costs[-1]), flush=True)
    RESULTS.write_text(json.dumps({"what": __doc__.splitlines()[0], "machine": platform.platform(),
                                   "n_gwas": N_GWAS, "runs": runs, "costs": costs},
                                  indent=1) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--panel", default="/tmp/bayesmix-coalescent-20k/coalescent.panel")
    p.add_argument("--chrom", default="1")
    p.add_argument("--workdir", default="/tmp/sbayes_eigen_scale")
    p.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000, 1_000_000])
    r = sub.add_parser("run")
    r.add_argument("--workdir", default="/tmp/sbayes_eigen_scale")
    r.add_argument("--methods", nargs="+", default=["C", "R"])
    r.add_argument("--chain-lengths", type=int, nargs=2, default=[200, 1000])
    r.add_argument("--gctb", default=None, help="a GCTB binary to run on the same files")
    args = parser.parse_args(argv)
    prepare(args) if args.step == "prepare" else run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
