"""Annotation-dependent mixture weights (SBayesRC's idea) composed from PyMC pieces.

Each SNP j has annotations A_j (here an intercept and one binary "functional" annotation)
and its probability of a non-zero effect is pi_j = 1 / (1 + exp(-A_j theta)), theta ~
Normal(0, 3^2) per coefficient. The model is BayesC / SBayesC with its weights replaced:

    AlphabetModel(data, "C", hyperpriors={"weights": lambda default:
        annotation_weights(A, pm.Normal("theta", 0, 3, shape=2))})

``make_steps`` keeps the numba sweep (now with per-SNP weights) and samples theta with the
step :class:`~bayesmix.inference.effect_steps.AnnotationWeightsMetropolis` (theta given the
components is a multinomial logistic regression); any other prior on theta would get the
generic Markov-blanket Metropolis step.

Data: ``--people`` x ``--snps`` block-LD genotypes simulated by bayesmix, 20% of SNPs
annotated, true theta = (-4.5, 3): about 1% of unannotated and 18% of annotated SNPs are
causal, h2 0.5. Fitted on the individual data (AlphabetModel) and on summary statistics of a
GWAS of ``--n-gwas`` people from the same LD (SBayesModel, LD from the simulated panel).
Both run through ``pm.sample`` with bayesmix's steps. Prints theta's posterior mean and 90%
interval next to the truth and returns them.

Usage: python examples/composition_annotation_weights.py [--snps 2000] [--people 2000]
       [--iterations 1500] [--n-gwas 50000] [--out composition_annotation]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pymc as pm

from bayesmix.distributions.effects import annotation_weights
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

TRUE_THETA = np.array([-4.5, 3.0])
H2 = 0.5


def theta_draws(model, steps, iterations, seed) -> np.ndarray:
    """Posterior draws of theta (draws, 2): ``pm.sample`` with the model's steps, one chain,
    a third of the iterations as burn-in, only theta and the effects' summaries kept."""
    with model.model:
        tree = pm.sample(draws=iterations - iterations // 3, tune=iterations // 3, chains=1,
                         step=steps, var_names=["theta"], random_seed=seed, progressbar=False,
                         compute_convergence_checks=False)
    return tree.posterior["theta"].values[0]


def summarise(label, draws) -> dict:
    low, high = np.percentile(draws, [5, 95], axis=0)
    mean = draws.mean(0)
    print(f"{label}: theta = {np.round(mean, 2)} (90% {np.round(low, 2)} .. {np.round(high, 2)}), "
          f"truth {TRUE_THETA}")
    return {"theta_mean": mean.tolist(), "theta_low": low.tolist(), "theta_high": high.tolist()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snps", type=int, default=2000)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--iterations", type=int, default=1500)
    parser.add_argument("--n-gwas", type=float, default=50_000)
    parser.add_argument("--out", type=Path, default=Path("composition_annotation"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)

    simulate_bfile(args.out / "panel", args.people, args.snps, rng=rng)
    geno = Genotypes.open(args.out / "panel")
    annotated = rng.random(args.snps) < 0.2
    annotations = np.column_stack([np.ones(args.snps), annotated])
    causal = rng.random(args.snps) < 1.0 / (1.0 + np.exp(-annotations @ TRUE_THETA))
    b_std = np.where(causal, rng.standard_normal(args.snps), 0.0)
    x = geno.read(np.arange(args.snps), standardize=True).astype(np.float64)
    b_std *= np.sqrt(H2 / np.var(x @ b_std))
    y = x @ b_std + np.sqrt(1 - H2) * rng.standard_normal(args.people)
    print(f"{causal.sum()} causal SNPs: {causal[annotated].mean():.1%} of annotated, "
          f"{causal[~annotated].mean():.1%} of the others")

    def weights(default):
        return annotation_weights(annotations, pm.Normal("theta", 0.0, 3.0, shape=2))

    out = {"true_theta": TRUE_THETA.tolist(), "n_causal": int(causal.sum())}
    individual = AlphabetModel(AlphabetData.from_plink(geno, y), "C",
                               hyperpriors={"weights": weights})
    print("individual-data steps:", [type(s).__name__ for s in make_steps(individual)])
    out["individual"] = summarise("individual data", theta_draws(
        individual, make_steps(individual), args.iterations, args.seed))

    draw = draw_from_genotype_blocks(geno, b_std, rng=rng)
    snps = geno.snps[["snp", "chr", "bp", "a1", "a2", "freq"]]
    ld = build_ld(geno, "window", window_kb=200, progress=False)
    data = prepare_summary_data(sumstats_table(draw.zscores(args.n_gwas)[:, 0], args.n_gwas,
                                               snps), ld)
    summary = SBayesModel(data, "C", hyperpriors={"weights": weights})
    out["summary"] = summarise(f"summary data (N = {args.n_gwas:,.0f})", theta_draws(
        summary, make_sbayes_steps(summary), args.iterations, args.seed))
    return out


if __name__ == "__main__":
    main()
    sys.exit(0)
