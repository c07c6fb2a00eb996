"""A per-SNP slab variance that depends on a covariate (here the LD score), from PyMC pieces.

    v_j = sig2_beta exp(s x_j),   x_j = standardised LD score of SNP j,   s ~ Normal(0, 1)

(:func:`~bayesmix.distributions.effects.covariate_scaled_variance`; BayesS does the same with
x_j = log H_j). Composed into BayesC through the slab variance:

    AlphabetModel(data, "C", hyperpriors={"slab_var": lambda default:
        covariate_scaled_variance(default(), x, pm.Normal("ld_slope", 0.0, 1.0))})

``default()`` declares the model's own sig2_beta, which keeps its conjugate update (the slab
variance stays proportional to it); the slope gets the Markov-blanket Metropolis step.

Data: ``--people`` x ``--snps`` block-LD genotypes simulated by bayesmix (LD strength varies
by block, so LD scores vary), ``--causal`` causal SNPs whose effect variance follows the
model with s = ``--slope`` (h2 0.5); LD scores from a 200 kb window LD matrix of the same
genotypes. Prints the slope's posterior mean and 90% interval (``pm.sample`` with bayesmix's
steps) next to the truth.

Usage: python examples/composition_covariate_variance.py [--snps 2000] [--people 2000]
       [--causal 400] [--slope -0.8] [--iterations 1500] [--out composition_covariate]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pymc as pm

from bayesmix.distributions.effects import covariate_scaled_variance
from bayesmix.inference.gibbs import sample
from bayesmix.io.plink import Genotypes
from bayesmix.kernels.sbayes import row_ld_statistics
from bayesmix.ld import build_ld
from bayesmix.models.alphabet import AlphabetModel
from bayesmix.prepare.alphabet_data import AlphabetData
from bayesmix.simulate.genotypes import simulate_bfile

H2 = 0.5


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snps", type=int, default=2000)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--causal", type=int, default=400)
    parser.add_argument("--slope", type=float, default=-0.8)
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--out", type=Path, default=Path("composition_covariate"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    simulate_bfile(args.out / "panel", args.people, args.snps, rng=rng, rho=0.7)
    geno = Genotypes.open(args.out / "panel")
    ld = build_ld(geno, "window", window_kb=200, progress=False)
    score, _ = row_ld_statistics(np.asarray(ld.indptr), np.asarray(ld.data), ld.scale)
    x = (score - score.mean()) / score.std()
    causal = rng.choice(args.snps, args.causal, replace=False)
    b_std = np.zeros(args.snps)
    b_std[causal] = rng.standard_normal(args.causal) * np.exp(0.5 * args.slope * x[causal])
    genotypes = geno.read(np.arange(args.snps), standardize=True).astype(np.float64)
    b_std *= np.sqrt(H2 / np.var(genotypes @ b_std))
    y = genotypes @ b_std + np.sqrt(1 - H2) * rng.standard_normal(args.people)

    model = AlphabetModel(AlphabetData.from_plink(geno, y), "C", hyperpriors={
        "slab_var": lambda default: covariate_scaled_variance(
            default(), x, pm.Normal("ld_slope", 0.0, 1.0))})
    tree = sample(model, draws=args.iterations - args.iterations // 3,
                  tune=args.iterations // 3, chains=1, random_seed=args.seed,
                  var_names=["ld_slope", "sig2_beta", "pi"])
    draws = tree.posterior["ld_slope"].values.ravel()
    low, high = np.percentile(draws, [5, 95])
    print(f"LD-score slope of log v_j: {draws.mean():.2f} (90% {low:.2f} .. {high:.2f}), "
          f"truth {args.slope}")
    return {"slope_true": args.slope, "slope_mean": float(draws.mean()),
            "slope_low": float(low), "slope_high": float(high)}


if __name__ == "__main__":
    main()
    sys.exit(0)
