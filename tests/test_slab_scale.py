"""sig2_beta's prior scale adapted during burn-in (GCTB's rule, SlabScalePlugIn): the values
set against the rule computed by hand from the chain's own state, and the point of it: the
posterior of BayesS's S no longer depends on the starting S."""

import arviz as az
import numpy as np
import pytest

from bayesmix.inference.chain import ChainSettings
from bayesmix.inference.gibbs import SlabScalePlugIn, make_steps
from bayesmix.inference.sbayes_run import run_sbayes
from bayesmix.inference.step_base import PLUG_IN_EVERY, PLUG_IN_WARM_UP
from bayesmix.io.plink import Genotypes
from bayesmix.models.alphabet import SLAB_SCALE, AlphabetModel, AlphabetPrior
from bayesmix.prepare.alphabet_data import AlphabetData
from test_sbayes_model import summary_from_design


def chr22_trait(bfile22, first, m, n_causal, seed):
    """Dosages of m polymorphic SNPs of the shipped chr22 panel from SNP ``first`` on, their
    table, and a phenotype with heritability 0.5 from n_causal SNPs whose standardised effects
    do not depend on frequency (per-allele S = -1)."""
    geno = Genotypes.open(bfile22)
    cols = np.arange(first, first + m)
    dosages = geno.read(cols, standardize=False).astype(np.float64)
    snps = geno.snps.iloc[cols].reset_index(drop=True)
    keep = dosages.std(0) > 0
    dosages, snps = dosages[:, keep], snps[keep].reset_index(drop=True)
    xs = (dosages - dosages.mean(0)) / dosages.std(0)
    rng = np.random.default_rng(seed)
    b = np.zeros(xs.shape[1])
    b[rng.choice(xs.shape[1], n_causal, replace=False)] = rng.standard_normal(n_causal)
    b *= np.sqrt(0.5 / np.var(xs @ b))
    y = xs @ b + np.sqrt(0.5) * rng.standard_normal(len(xs))
    return dosages, snps, (y - y.mean()) / y.std(ddof=1)


def test_individual_bayess_scale_follows_gctbs_rule(bfile22):
    """Driving the steps by hand through a burn-in of PLUG_IN_WARM_UP + 2 PLUG_IN_EVERY + 3
    iterations: at each iteration that sets it, the scale is 0.5 x (mean GenVar of those
    iterations so far) / (Pi sum_j Var(x_j) H_j^S) at that iteration's state, computed here
    from the state (nu = 4); in between it stays; at the last burn-in iteration it is the
    mean of the scales set, and after burn-in it does not move."""
    dosages, _, y = chr22_trait(bfile22, 3000, 150, 10, seed=1)
    model = AlphabetModel(AlphabetData.from_arrays(dosages, y, standardize=False), "S")
    assert model.adapts_slab_scale
    steps = make_steps(model, rng=3)
    plug_in = steps[-1]
    assert isinstance(plug_in, SlabScalePlugIn)
    burn_in = PLUG_IN_WARM_UP + 2 * PLUG_IN_EVERY + 3
    for k, step in enumerate(steps):
        step.setup_chain(np.random.default_rng(k), burn_in, 20)
    column_var = dosages.var(0)  # X is centred, not scaled: Var(x_j), 1/n form
    het = model.data.genotypes.heterozygosity
    point = model.initial_point()
    start = float(point[SLAB_SCALE])
    assert start == pytest.approx(0.5 * model.start["sig2_beta"])
    genetic_variances, scales, held = [], [], start
    for t in range(1, burn_in + 21):
        if t == burn_in + 1:
            for step in steps:
                step.stop_tuning()
        for step in steps[:-1]:
            point, _ = step.step(point)
        point, (stats,) = plug_in.step(point)
        if t > burn_in:
            assert float(point[SLAB_SCALE]) == stats["slab_scale"] == held
            continue
        if t > PLUG_IN_WARM_UP and t != burn_in and (burn_in - t) % PLUG_IN_EVERY:
            assert float(point[SLAB_SCALE]) == held
            continue
        beta = point["beta"]
        x_beta = (dosages - dosages.mean(0)) @ beta
        genetic_variances.append(np.var(x_beta))
        rule = 0.5 * np.mean(genetic_variances) / (
            float(point["pi"]) * float((column_var * het ** float(point["S"])).sum()))
        scales.append(rule)
        assert float(point[SLAB_SCALE]) == pytest.approx(
            np.mean(scales) if t == burn_in else rule, rel=1e-9), t
        held = float(point[SLAB_SCALE])
    assert len(scales) == PLUG_IN_WARM_UP + 3
    assert np.ptp(scales) > 0.1 * np.mean(scales)  # it moved with the chain


@pytest.mark.parametrize("method", ["C", "S"])
def test_fixed_scale_priors_keep_no_plug_in(bfile22, method):
    """A user prior on sig2_beta (or S) is used as given: no plug-in variable, no step."""
    from bayesmix.distributions.variance import ScaledInvChi2

    dosages, _, y = chr22_trait(bfile22, 3000, 60, 5, seed=2)
    data = AlphabetData.from_arrays(dosages, y, standardize=False)
    default = AlphabetModel(data, method)
    assert default.adapts_slab_scale == (method == "S")
    assert (SLAB_SCALE in default.model.named_vars) == (method == "S")
    fixed = AlphabetModel(data, method, hyperpriors={
        "sig2_beta": lambda name: ScaledInvChi2(name, 4.0, 0.01)})
    assert SLAB_SCALE not in fixed.model.named_vars
    assert not any(isinstance(s, SlabScalePlugIn) for s in make_steps(fixed))


def test_sbayess_posterior_of_s_does_not_depend_on_the_starting_s(bfile22):
    """In-sample SBayesS on 1,000 SNPs (true S = -1): chains started at S = 0 and S = -2 give
    posterior means of S within 4 Monte Carlo SE of each other (ESS-based). With the prior
    scale fixed from the starting S (the code before the plug-in) they were -0.80 and -1.09,
    6 SE apart; with it -0.93 and -1.01 (1.5 SE)."""
    dosages, snps, y = chr22_trait(bfile22, 2000, 1000, 40, seed=5)
    xs = (dosages - dosages.mean(0)) / dosages.std(0)
    data = summary_from_design(xs, y, snps)
    settings = ChainSettings(chain_length=4000, burn_in=1000, thin=1, out_freq=0, seed=1)
    means, errors = [], []
    for start in (0.0, -2.0):
        _, result = run_sbayes(data, AlphabetPrior("S", S=start), settings, robust=False)
        draws = result.trace("S")
        means.append(draws.mean())
        errors.append(draws.std() / np.sqrt(float(az.ess(np.atleast_2d(draws)))))
    assert abs(means[0] - means[1]) < 4 * np.hypot(*errors), (means, errors)
    assert abs(np.mean(means) + 1.0) < 0.3  # near the truth (posterior SD ~0.3)
