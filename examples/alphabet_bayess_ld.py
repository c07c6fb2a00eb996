"""Is BayesS's S identifiable under LD? Replicates at several LD strengths.

For each LD strength (latent AR(1) correlation ``rho`` inside blocks of 100 SNPs of
:func:`bayesmix.simulate.genotypes.simulate_bfile`; 0 = unlinked SNPs) and replicate, simulates
per-allele effects from the BayesS prior with a known S, fits BayesS with the chain driver and
reports, next to the truth:

- ``S | true beta``: the posterior of S given the TRUE effects (sig2_beta integrated out,
  numerical integration on a grid, the same density the S steps target). It must be centred on
  the truth whatever the LD; if it is and the full run is not, the loss of information is in
  the effects (LD spreads a causal signal over partners of other frequencies), not in the S
  update;
- ``S | full run``: posterior mean and 90% interval of the MCMC run.

Usage: python examples/alphabet_bayess_ld.py [--n 2000] [--m 4000] [--causal 100]
       [--rho 0,0.5,0.9] [--replicates 3] [--chain-length 1500] [--burn-in 500] [--out f.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings

import numpy as np

from bayesmix.inference.chain import ChainSettings, run_chains
from bayesmix.inference.gibbs import make_steps
from bayesmix.io.plink import Genotypes
from bayesmix.models.alphabet import AlphabetModel
from bayesmix.prepare.alphabet_data import AlphabetData
from bayesmix.simulate.effects import bayess_effects
from bayesmix.simulate.genotypes import simulate_bfile
from bayesmix.simulate.phenotype import simulate_phenotypes

warnings.filterwarnings("ignore", message="Numba will use object mode")


def s_posterior_given_effects(beta, het, nu, s2, grid=np.linspace(-5, 4, 3601)):
    """Mean and 90% interval of p(S | beta) = N(S; 0, 1) prod_j H_j^(-S/2)
    (nu s2 + sum_j beta_j^2 / H_j^S)^(-(nu + k)/2) over the non-zero per-allele ``beta``."""
    active = beta != 0
    h, b2, k = het[active], beta[active] ** 2, int(active.sum())
    log_h = np.log(h)
    log_post = (-0.5 * grid**2 - 0.5 * grid * log_h.sum()
                - 0.5 * (nu + k) * np.log(nu * s2 + (b2 * np.exp(-np.outer(grid, log_h))).sum(1)))
    w = np.exp(log_post - log_post.max())
    cdf = np.cumsum(w) / w.sum()
    mean = float((w * grid).sum() / w.sum())
    return mean, float(np.interp(0.05, cdf, grid)), float(np.interp(0.95, cdf, grid))


def replicate(rho, seed, n, m, causal, h2, S, chain_length, burn_in) -> dict:
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = simulate_bfile(f"{tmp}/cohort", n, m, rng=rng, rho=rho)
        geno = Genotypes.open(prefix, drop_monomorphic=True)
        effects = bayess_effects(geno.heterozygosity, h2, rng=rng, n_causal=causal, S=S)
        pheno = simulate_phenotypes(geno, effects, h2, rng=rng)
        data = AlphabetData.from_plink(geno, pheno.y[:, 0], standardize=False)
    model = AlphabetModel(data, "S")
    nu = model.prior.nu_beta
    s2 = (nu - 2) / nu * model.start["sig2_beta"]
    truth = s_posterior_given_effects(effects.beta, data.genotypes.heterozygosity, nu, s2)
    result = run_chains(model, make_steps, ChainSettings(chain_length=chain_length,
                                                         burn_in=burn_in, thin=5, out_freq=0,
                                                         seed=seed))
    draws = result.trace("S")
    lo, hi = np.quantile(draws, [0.05, 0.95])
    return {"rho": rho, "seed": seed, "S_true": S,
            "S_given_true_beta": truth, "S_full_run": (float(draws.mean()), float(lo), float(hi)),
            "hsq_true": float(pheno.h2_sample[0]), "hsq_est": float(result.trace("hsq").mean()),
            "nnz_est": float(result.trace("NnzSnp").mean())}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--m", type=int, default=4000)
    parser.add_argument("--causal", type=int, default=100)
    parser.add_argument("--h2", type=float, default=0.5)
    parser.add_argument("--S", type=float, default=-0.5)
    parser.add_argument("--rho", default="0,0.5,0.9")
    parser.add_argument("--replicates", type=int, default=3)
    parser.add_argument("--chain-length", type=int, default=1500)
    parser.add_argument("--burn-in", type=int, default=500)
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args(argv)
    rows = []
    print("rho seed S_true | S given true beta [90%] | S full run [90%] | hsq true/est | NnzSnp")
    for rho in map(float, args.rho.split(",")):
        for rep in range(args.replicates):
            row = replicate(rho, 100 + rep, args.n, args.m, args.causal, args.h2, args.S,
                            args.chain_length, args.burn_in)
            rows.append(row)
            t, f = row["S_given_true_beta"], row["S_full_run"]
            print(f"{rho} {row['seed']} {args.S} | {t[0]:.2f} [{t[1]:.2f}, {t[2]:.2f}] | "
                  f"{f[0]:.2f} [{f[1]:.2f}, {f[2]:.2f}] | {row['hsq_true']:.3f}/"
                  f"{row['hsq_est']:.3f} | {row['nnz_est']:.0f}", flush=True)
            if args.out:
                with open(args.out, "w") as fh:
                    json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
