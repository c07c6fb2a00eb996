"""Where SBayes on eigen LD starts its per-block residual variances: from the data, so a
chain started at GCTB's hsq of 0.5 does not fit the panel's LD mismatch as effects in its
first sweep (at 1.1M SNPs the start 1 - hsq stopped SBayesR at iteration 1)."""

import numpy as np
import pandas as pd
from test_sbayes_eigen import eigen_folder, sumstats_table

from bayesmix.inference.chain import chain_seeds
from bayesmix.inference.sbayes_eigen_gibbs import make_eigen_steps
from bayesmix.models.alphabet import AlphabetPrior
from bayesmix.models.sbayes_eigen import SBayesEigenModel
from bayesmix.prepare.eigen_data import prepare_eigen_data

N_BLOCKS, BLOCK_SIZE = 150, 20


def mismatched_statistics(tmp_path, seed, n=1000, sig2=2.5, h2=0.2):
    """150 blocks of 20 SNPs (AR(1) LD, r = 0.7^|i - j|); 30 causal SNPs explaining h2;
    noise sig2 / n R_b per block, sig2 = 2.5 times the sampling noise (a badly matched
    panel, as the 1.1M-SNP run's residual variances of about 2.4). Fitting that noise as
    effects would claim K sig2 / n = 7.5 times the phenotypic variance. Returns the data
    and the true genetic variance beta'R beta."""
    rng = np.random.default_rng(seed)
    idx = np.arange(BLOCK_SIZE)
    r = 0.7 ** np.abs(np.subtract.outer(idx, idx))
    m = N_BLOCKS * BLOCK_SIZE
    beta = np.zeros(m)
    causal = rng.choice(m, 30, replace=False)
    beta[causal] = rng.normal(0, np.sqrt(h2 / 30), 30)
    blocks = beta.reshape(N_BLOCKS, BLOCK_SIZE)
    chol = np.linalg.cholesky(r)
    b_std = (blocks @ r + np.sqrt(sig2 / n) * rng.normal(size=blocks.shape) @ chol.T).ravel()
    bases = rng.choice(list("ACG"), m)
    snps = pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1",
                         "bp": 1000 * np.arange(1, m + 1), "cm": 0.0, "a1": bases,
                         "a2": np.where(bases == "A", "C", "T"),
                         "freq": rng.uniform(0.1, 0.5, m), "n": n})
    data = prepare_eigen_data(sumstats_table(tmp_path / f"t{seed}.ma", snps, b_std, n),
                              eigen_folder([r] * N_BLOCKS, snps))
    return data, float(sum(row @ r @ row for row in blocks))


def first_genetic_variances(model, seed, iterations):
    """GenVar after each of the first ``iterations`` of a chain (run_chain's loop and seeds,
    seed ``seed``, in a 1,000-iteration burn-in: the burn-in keeps no trace)."""
    steps = make_eigen_steps(model)
    for step, rng in zip(steps, chain_seeds(seed, 0, len(steps))):
        step.setup_chain(rng, 1000, 1000)
    point, values = model.initial_point(), []
    for _ in range(iterations):
        stats = {}
        for step in steps:
            point, step_stats = step.step(point)
            for s in step_stats:
                stats.update(s)
        values.append(model.monitor(point, stats)["GenVar"])
    return np.array(values)


def test_the_first_sweeps_do_not_fit_the_mismatch_noise(tmp_path):
    """From GCTB's starting hsq 0.5 (a residual variance of 0.5 against a true 2.5), the
    first two sweeps' genetic variance stays below 0.75 (truth about 0.2; their posterior
    spread at n = 1000 is wide). With the start 1 - hsq, iteration 1 claimed 2.4 and the chain
    stopped. (Later on, with K / n = 3 and this much noise, the posterior itself lets many
    small effects take over part of the noise: by the fifth iteration 5 of 12 seeds are past
    0.75, with either random stream the sweeps have had. That is the model, not its start,
    and beyond this test.)"""
    for seed in range(3):
        data, genetic = mismatched_statistics(tmp_path, seed)
        model = SBayesEigenModel(data, AlphabetPrior("C", hsq=0.5))
        first = first_genetic_variances(model, seed, iterations=2)
        assert 0.1 < genetic < 0.35 and np.all(first < 0.75), (seed, first, genetic)


def test_a_method_name_on_eigen_ld_takes_gctbs_eigen_defaults():
    """SBayesEigenModel(data, "R") (the documented Python recipe) used the 4-component
    default and a starting hsq of 0.5, while bayesmix-gctb --ldm-eigen uses GCTB's defaults
    on eigen LD (gctb-facts: gamma 0, 0.001, 0.01, 0.1, 1; pi 0.95, 0.02, 0.01, 0.01, 0.01;
    hsq 0.1): an audit found the recipe's numbers differ from the command line's."""
    from chain_models import sbayes_eigen_r

    model = sbayes_eigen_r()
    assert model.prior.gamma_values.tolist() == [0.0, 0.001, 0.01, 0.1, 1.0]
    assert model.prior.pi_values.tolist() == [0.95, 0.02, 0.01, 0.01, 0.01]
    assert model.prior.hsq == 0.1
