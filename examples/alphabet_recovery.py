"""Recovery of heritability, the number of causal SNPs and S by BayesC, BayesR and BayesS.

Simulates a cohort with the package's simulator (block LD genotypes written as PLINK files,
effects from the BayesC / BayesS priors, phenotypes with a known h2), fits each model with the
chain driver and prints a table of truth vs posterior mean (and 90% credible interval).

Usage: python examples/alphabet_recovery.py [--n 4000] [--m 10000] [--causal 100]
       [--h2 0.5] [--chain-length 2000] [--burn-in 1000] [--out table.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings

import numpy as np

from bayesmix.inference.chain import ChainSettings, run_chains
from bayesmix.inference.gibbs import make_steps
from bayesmix.io.plink import Genotypes
from bayesmix.models.alphabet import AlphabetModel
from bayesmix.prepare.alphabet_data import AlphabetData
from bayesmix.simulate.effects import bayesc_effects, bayess_effects
from bayesmix.simulate.genotypes import simulate_bfile
from bayesmix.simulate.phenotype import simulate_phenotypes

warnings.filterwarnings("ignore", message="Numba will use object mode")


def interval(values) -> str:
    lo, hi = np.quantile(values, [0.05, 0.95])
    return f"{np.mean(values):.3f} [{lo:.3f}, {hi:.3f}]"


def recover(n=4000, m=10000, causal=100, h2=0.5, chain_length=2000, burn_in=1000, seed=1,
            quiet=False) -> list[dict]:
    """Simulate, fit BayesC, BayesR (on a BayesC truth) and BayesS (on a BayesS truth)."""
    rng = np.random.default_rng(seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        prefix = simulate_bfile(f"{tmp}/cohort", n, m, rng=rng)
        geno = Genotypes.open(prefix, drop_monomorphic=True)
        truths = {"C": bayesc_effects(geno.heterozygosity, h2, rng=rng, n_causal=causal),
                  "S": bayess_effects(geno.heterozygosity, h2, rng=rng, n_causal=causal, S=-0.5)}
        for method, truth_name in (("C", "C"), ("R", "C"), ("S", "S")):
            effects = truths[truth_name]
            pheno = simulate_phenotypes(geno, effects, h2, rng=np.random.default_rng(seed + 1))
            data = AlphabetData.from_plink(geno, pheno.y[:, 0], standardize=(method != "S"))
            model = AlphabetModel(data, method)
            settings = ChainSettings(chain_length=chain_length, burn_in=burn_in, thin=5,
                                     out_freq=0 if quiet else chain_length // 4, seed=seed)
            started = time.perf_counter()
            result = run_chains(model, make_steps, settings)
            row = {"method": f"Bayes{method}", "truth_prior": f"Bayes{truth_name}", "n": n, "m": m,
                   "hsq_true": float(pheno.h2_sample[0]),
                   "hsq_est": interval(result.trace("hsq")),
                   "n_causal_true": int(len(effects.causal)),
                   "nnz_est": interval(result.trace("NnzSnp")),
                   "seconds": time.perf_counter() - started}
            if method == "S":
                row["S_true"] = effects.params["S"]
                row["S_est"] = interval(result.trace("S"))
            causal_pip = result.snp_summary()["PIP"].to_numpy()[effects.causal]
            row["mean_pip_causal"] = float(causal_pip.mean())
            rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--m", type=int, default=10000)
    parser.add_argument("--causal", type=int, default=100)
    parser.add_argument("--h2", type=float, default=0.5)
    parser.add_argument("--chain-length", type=int, default=2000)
    parser.add_argument("--burn-in", type=int, default=1000)
    parser.add_argument("--out", help="write the table as JSON here")
    args = parser.parse_args(argv)
    rows = recover(args.n, args.m, args.causal, args.h2, args.chain_length, args.burn_in)
    keys = ["method", "truth_prior", "hsq_true", "hsq_est", "n_causal_true", "nnz_est",
            "S_true", "S_est", "mean_pip_causal", "seconds"]
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(str(row.get(k, "")) if not isinstance(row.get(k), float)
                         else f"{row[k]:.3f}" for k in keys))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
