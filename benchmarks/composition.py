"""Benchmark: composed effect priors against the built-in models of the same size.

Seconds per iteration (CPU time, ``time.process_time``: the fair measure on a shared machine;
wall time too; the median of ``--repeats`` chains) of bayesmix's chain driver (``run_chain`` with ``make_steps`` /
``make_sbayes_steps``: effects sweep + every other step + monitoring) after 10 warm-up
iterations that compile the kernels and graphs, for:

- individual data (``--people`` x ``--snps`` simulated block-LD genotypes packed into int8,
  1% causal, h2 0.5): built-in BayesC and BayesB; BayesC with annotation-dependent weights
  (3 annotations: intercept, one binary, one continuous), with a Laplace slab (tau_j ~
  Exponential(rate), rate ~ Gamma), with a Student-t slab (sig2_beta u_j, u_j ~
  InverseGamma(2, 2)), with an LD-score-like covariate in the slab variance;
- summary data (the same SNPs; window LD of 200 kb from the genotypes; GWAS z-scores of
  N = 100,000 drawn from that LD): built-in SBayesC and SBayesC with annotation weights.

Each composed model is reported with its ratio to the built-in model it extends (BayesC /
SBayesC; the heavy-tailed slabs also against BayesB, the built-in t slab). Target: within 2x.
Writes ``benchmarks/results/composition.json``.

Usage: python benchmarks/composition.py [--people 2000] [--snps 10000] [--iterations 200]
       [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results" / "composition.json"


def timed_chain(model, make, iterations: int, repeats: int) -> dict:
    """CPU and wall seconds per iteration of ``repeats`` chains (after a warm-up chain), the
    median over chains: single runs on a shared machine vary by up to 2x."""
    from bayesmix.inference.chain import ChainSettings, run_chain

    steps = make(model)
    run_chain(model, steps, ChainSettings(chain_length=10, burn_in=5, thin=1, out_freq=0, seed=1))
    cpu_times, wall_times, hsq = [], [], []
    for seed in range(2, 2 + repeats):
        settings = ChainSettings(chain_length=iterations, burn_in=iterations // 2, thin=1,
                                 out_freq=0, seed=seed)
        cpu = time.process_time()
        result = run_chain(model, steps, settings)
        cpu_times.append((time.process_time() - cpu) / iterations)
        wall_times.append(result.seconds_per_iteration)
        hsq.append(float(np.mean(result.traces["hsq"])))
    return {"cpu_seconds_per_iteration": float(np.median(cpu_times)),
            "cpu_seconds_per_iteration_all": cpu_times,
            "seconds_per_iteration": float(np.median(wall_times)),
            "hsq_mean": float(np.mean(hsq)),
            "steps": [type(s).__name__ for s in steps]}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--snps", type=int, default=10000)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    import pymc as pm

    from bayesmix.distributions.effects import annotation_weights, covariate_scaled_variance
    from bayesmix.inference.gibbs import make_steps
    from bayesmix.prepare.summary_data import prepare_summary_data
    from bayesmix.inference.sbayes_gibbs import make_sbayes_steps
    from bayesmix.io.plink import Genotypes
    from bayesmix.ld import build_ld
    from bayesmix.models.alphabet import AlphabetModel
    from bayesmix.prepare.alphabet_data import AlphabetData
    from bayesmix.models.sbayes import SBayesModel
    from bayesmix.simulate.from_ld import draw_from_genotype_blocks, sumstats_table
    from bayesmix.simulate.genotypes import simulate_bfile

    n, m = args.people, args.snps
    rng = np.random.default_rng(1)
    folder = Path(tempfile.mkdtemp(prefix="bayesmix_composition_"))
    simulate_bfile(folder / "panel", n, m, rng=rng)
    geno = Genotypes.open(folder / "panel")
    b_std = np.where(rng.random(m) < 0.01, rng.standard_normal(m), 0.0)
    data = AlphabetData.from_plink(geno, np.zeros(n))
    g = data.genotypes.matvec(b_std)
    b_std *= np.sqrt(0.5 / np.var(g))
    y = data.genotypes.matvec(b_std) + np.sqrt(0.5) * rng.standard_normal(n)
    data = AlphabetData.from_plink(geno, y)
    annotations = np.column_stack([np.ones(m), rng.random(m) < 0.2, rng.standard_normal(m)])
    covariate = rng.standard_normal(m)

    def weights(default):
        return annotation_weights(annotations, pm.Normal("theta", 0.0, 3.0, shape=3))

    individual = {
        "BayesC": ("C", {}),
        "BayesB": ("B", {}),
        "BayesC + annotation weights": ("C", {"weights": weights}),
        "BayesC + Laplace slab": ("C", {"slab_var": lambda default: pm.Exponential(
            "tau", pm.Gamma("laplace_rate", 1.0, 0.01), dims="snp")}),
        "BayesC + Student-t slab": ("C", {"slab_var": lambda default: default()
                                          * pm.InverseGamma("tau", 2.0, 2.0, dims="snp")}),
        "BayesC + covariate variance": ("C", {"slab_var": lambda default:
                                              covariate_scaled_variance(
                                                  default(), covariate,
                                                  pm.Normal("ld_slope", 0.0, 1.0))}),
    }
    rows = {}
    for label, (method, hyper) in individual.items():
        rows[label] = timed_chain(AlphabetModel(data, method, hyperpriors=hyper), make_steps,
                                  args.iterations, args.repeats)
        print(f"{label:32s} {1e3 * rows[label]['cpu_seconds_per_iteration']:7.2f} ms CPU/iteration")

    ld = build_ld(geno, "window", window_kb=200, progress=False)
    draw = draw_from_genotype_blocks(geno, b_std, rng=rng)
    snps = geno.snps[["snp", "chr", "bp", "a1", "a2", "freq"]]
    summary = prepare_summary_data(sumstats_table(draw.zscores(1e5)[:, 0], 1e5, snps), ld)
    for label, hyper in {"SBayesC": {}, "SBayesC + annotation weights": {"weights": weights}}.items():
        rows[label] = timed_chain(SBayesModel(summary, "C", hyperpriors=hyper),
                                  make_sbayes_steps, args.iterations, args.repeats)
        print(f"{label:32s} {1e3 * rows[label]['cpu_seconds_per_iteration']:7.2f} ms CPU/iteration")

    baselines = {"BayesC + annotation weights": ["BayesC"],
                 "BayesC + Laplace slab": ["BayesC", "BayesB"],
                 "BayesC + Student-t slab": ["BayesC", "BayesB"],
                 "BayesC + covariate variance": ["BayesC"],
                 "SBayesC + annotation weights": ["SBayesC"]}
    for label, bases in baselines.items():
        rows[label]["cpu_ratio"] = {base: rows[label]["cpu_seconds_per_iteration"]
                                    / rows[base]["cpu_seconds_per_iteration"] for base in bases}
        print(f"{label:32s} " + ", ".join(f"{r:.2f}x {b}" for b, r in
                                           rows[label]["cpu_ratio"].items()))
    out = {"people": n, "snps": m, "iterations": args.iterations, "repeats": args.repeats,
           "ld_nnz": int(ld.nnz),
           "machine": platform.platform(), "python": platform.python_version(),
           "results": rows}
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
