"""SBayesC / SBayesR recovery from summary statistics with an out-of-sample LD reference.

A "population" panel and an independent, smaller LD reference panel are simulated with the
package's block-LD genotype model (same allele frequencies). GWAS z-scores of ``--n-gwas``
people are drawn from the population's LD (z = sqrt(N) R b + e, e ~ N(0, R), R from
``--n-pop`` people, blocks of ``--block-size`` SNPs); the models are fitted with windowed LD
computed from the reference panel (``--n-ref`` people), with the default (robust) settings.
The truth is hsq = b' R b of the simulated standardised effects.

Run the full-size check (20,000 SNPs, N = 100k and 200k, 1,000-person reference):

    python examples/sbayes_recovery.py --snps 20000 --n-gwas 100000 200000 --out sbayes_rec

Writes ``OUT/recovery.json`` and prints a table. Small defaults run in seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bayesmix.errors import ConvergenceError
from bayesmix.inference.chain import ChainSettings
from bayesmix.inference.sbayes_run import run_sbayes
from bayesmix.io.plink import Genotypes
from bayesmix.ld import build_ld
from bayesmix.prepare.summary_data import prepare_summary_data
from bayesmix.simulate.effects import bayesc_effects
from bayesmix.simulate.from_ld import draw_from_genotype_blocks, sumstats_table
from bayesmix.simulate.genotypes import simulate_bfile


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("sbayes_recovery"))
    parser.add_argument("--snps", type=int, default=2000)
    parser.add_argument("--block-size", type=int, default=100, help="simulated LD block size")
    parser.add_argument("--n-pop", type=int, default=2000, help="people defining the true LD")
    parser.add_argument("--n-ref", type=int, default=1000, help="LD reference panel size")
    parser.add_argument("--n-gwas", type=float, nargs="+", default=[100_000])
    parser.add_argument("--h2", type=float, default=0.5)
    parser.add_argument("--pi", type=float, default=0.01)
    parser.add_argument("--ld-kind", choices=["window", "sparse"], default="window",
                        help="reference LD: all pairs within --window-kb, or GCTB's sparse "
                             "(n r^2 >= --chisq anywhere on the chromosome)")
    parser.add_argument("--window-kb", type=float, default=200.0,
                        help="LD window of the reference matrix (SNPs are 1 kb apart)")
    parser.add_argument("--chisq", type=float, default=10.0)
    parser.add_argument("--methods", default="C,R")
    parser.add_argument("--chain-length", type=int, default=600)
    parser.add_argument("--burn-in", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(args.seed)
    minor = rng.uniform(0.05, 0.5, args.snps)
    freqs = np.where(rng.random(args.snps) < 0.5, minor, 1.0 - minor)
    panels = {}
    for name, n in (("pop", args.n_pop), ("ref", args.n_ref)):
        prefix = args.out / name
        simulate_bfile(prefix, n, args.snps, rng=np.random.default_rng([args.seed, n]),
                       freqs=freqs, block_size=args.block_size)
        panels[name] = Genotypes.open(prefix)
    started = time.perf_counter()
    window_kb = args.window_kb if args.ld_kind == "window" else None
    ld = build_ld(panels["ref"], args.ld_kind, window_kb=window_kb, chisq=args.chisq,
                  progress=False)
    ld_label = (f"window {args.window_kb:g} kb" if args.ld_kind == "window"
                else f"sparse chisq {args.chisq:g}")
    ld_seconds = time.perf_counter() - started
    pop = panels["pop"]
    het = 2 * pop.snps["freq"].to_numpy() * (1 - pop.snps["freq"].to_numpy())
    effects = bayesc_effects(het, args.h2, rng=rng, pi=args.pi)
    draw = draw_from_genotype_blocks(pop, effects.b_std, rng=rng, block_size=args.block_size)
    truth = float(draw.genetic_cov[0, 0])
    snps = pop.snps[["snp", "chr", "bp", "a1", "a2", "freq"]]

    rows = []
    for n_gwas in args.n_gwas:
        z = draw.zscores(n_gwas)[:, 0]
        data = prepare_summary_data(sumstats_table(z, n_gwas, snps), ld)
        assert data.n_snps == ld.shape[0]  # simulated statistics: no SNP is dropped
        for method in args.methods.split(","):
            settings = ChainSettings(chain_length=args.chain_length, burn_in=args.burn_in,
                                     thin=1, out_freq=0, seed=args.seed)
            row = {"method": f"SBayes{method}", "snps": args.snps, "n_gwas": n_gwas,
                   "n_ref": args.n_ref, "ld": ld_label,
                   "nnz_per_snp": ld.nnz / args.snps, "true_hsq": truth,
                   "true_n_causal": int((effects.b_std != 0).sum())}
            try:
                model, result = run_sbayes(data, method, settings)
            except ConvergenceError as exc:
                row.update(diverged=True, error=str(exc))
            else:
                hsq = result.trace("hsq").ravel()
                row.update(diverged=False, hsq_mean=float(hsq.mean()),
                           hsq_sd=float(hsq.std(ddof=1)),
                           rel_error=float(hsq.mean() / truth - 1),
                           nnz_mean=float(result.trace("NnzSnp").mean()),
                           ridge=model.ridge, ld_min_eigenvalue=model.ld_min_eigenvalue,
                           ld_repaired=model.ld_repair is not None,
                           seconds_per_iteration=result.chains[0].seconds_per_iteration)
            rows.append(row)
    (args.out / "recovery.json").write_text(json.dumps(
        {"rows": rows, "ld_build_seconds": ld_seconds}, indent=1))
    print("| method | SNPs | N | ref n | true hsq | est. hsq (SD) | rel. error | NnzSnp "
          "(true) | ridge | s/iter |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["diverged"]:
            print(f"| {r['method']} | {r['snps']} | {r['n_gwas']:.0f} | {r['n_ref']} | "
                  f"{r['true_hsq']:.3f} | diverged | | | | |")
            continue
        print(f"| {r['method']} | {r['snps']} | {r['n_gwas']:.0f} | {r['n_ref']} | "
              f"{r['true_hsq']:.3f} | {r['hsq_mean']:.3f} ({r['hsq_sd']:.3f}) | "
              f"{r['rel_error']:+.1%} | {r['nnz_mean']:.0f} ({r['true_n_causal']}) | "
              f"{r['ridge']:.3f} | {r['seconds_per_iteration']:.4f} |")
    return rows


if __name__ == "__main__":
    main()
