"""MiXeR univariate end to end on a simulated trait.

1. synthetic block LD over ``--snps`` SNPs (the reference = the tag SNPs),
2. causal effects from the MiXeR prior (``bayesmix.simulate.mixer_effects``) and GWAS
   z-scores z = sqrt(N) R b + e, e ~ N(0, R) (``bayesmix.simulate.from_ld``),
3. random-pruning weights (``bayesmix.ld.random_pruning_weights``),
4. the MiXeR fit sequence (infinitesimal -> constrained fast -> convolve) with SEs,
5. MiXeR-style JSON, Q-Q / stratified Q-Q / power-curve plots.

    python examples/mixer_univariate.py --out mixer_example --snps 20000 --causal 500

Prints truth vs estimate. ``simulate_trait`` and ``fit_trait`` are reused by
``benchmarks/mixer_univariate.py`` for the recovery table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def make_reference(n_snps: int, *, seed: int, block_size: int = 100):
    """Synthetic block LD as an LDMatrix (signed r) plus MixerData on it (z still 0)."""
    from bayesmix.ld.store import LDMatrix
    from bayesmix.prepare.mixer_data import MixerData

    rng = np.random.default_rng(seed)
    data, r_signed = MixerData.synthetic(n_snps, block_size=block_size, rng=rng)
    freq = data.tags["freq"].to_numpy()
    snps = pd.DataFrame({"snp": data.tags["snp"], "chr": "1", "bp": np.arange(n_snps) * 1000,
                         "cm": 0.0, "a1": "A", "a2": "G", "freq": freq, "n": 0})
    ld = LDMatrix.from_scipy(r_signed, snps, meta={"kind": "r2", "min_r2": 0.05})
    return ld, data


def simulate_trait(ld, data, *, n_causal: int, h2: float, n_gwas: float, seed: int,
                   sampler=None):
    """z = sqrt(N) R b + e with b from the MiXeR prior; returns (MixerData with z, truth)."""
    from bayesmix.ld.pruning import random_pruning_weights
    from bayesmix.simulate.effects import mixer_effects
    from bayesmix.simulate.from_ld import LDSampler

    rng = np.random.default_rng(seed)
    effects = mixer_effects(data.het, h2, rng=rng, n_causal=n_causal)
    sampler = sampler or LDSampler(ld.to_scipy())
    z = sampler.zscores(effects.b_std, n_gwas, rng=rng)
    weights = random_pruning_weights(ld, seed=seed)
    out = data.with_z(z)
    out.n[:] = n_gwas
    out.weights[:] = weights
    truth = {"pi": n_causal / data.n_ref, "sig2_beta": effects.params["sig2_beta"],
             "sig2_zero": 1.0, "h2": h2, "nc": n_causal}
    return out, truth


def fit_trait(data, *, sequence=("infinitesimal", "constrained", "convolve"), seed: int = 0,
              progress=None):
    from bayesmix.inference.mle import fit_univariate

    return fit_univariate(data, sequence=sequence, seed=seed, progress=progress)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="mixer_example", help="output prefix")
    parser.add_argument("--snps", type=int, default=20000)
    parser.add_argument("--causal", type=int, default=500)
    parser.add_argument("--h2", type=float, default=0.4)
    parser.add_argument("--n", type=float, default=1.5e5, help="GWAS sample size")
    parser.add_argument("--method", default="convolve", choices=["fast", "convolve", "full"])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    from bayesmix.report.mixer_json import (univariate_fit_json, write_json,
                                            write_univariate_test)

    ld, data = make_reference(args.snps, seed=args.seed)
    data, truth = simulate_trait(ld, data, n_causal=args.causal, h2=args.h2, n_gwas=args.n,
                                 seed=args.seed + 1)
    fit = fit_trait(data, sequence=("infinitesimal", "constrained", args.method),
                    seed=args.seed, progress=print)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(f"{args.out}.fit.json", univariate_fit_json(fit))
    maf = np.minimum(data.tags["freq"], 1 - data.tags["freq"]).to_numpy()
    write_univariate_test(data, maf, fit.params, f"{args.out}.test")
    print(f"{'':10s}{'truth':>12s}{'estimate':>12s}{'95% interval':>26s}")
    for key in ("pi", "sig2_beta", "sig2_zero", "h2", "nc"):
        c = fit.ci[key]
        print(f"{key:10s}{truth[key]:12.4g}{c['point']:12.4g}   ({c['lower']:10.4g}, "
              f"{c['upper']:10.4g})")
    print(f"AIC (infinitesimal - mixture) = {fit.criteria['AIC']:.1f}")
    return fit, truth


if __name__ == "__main__":
    main()
