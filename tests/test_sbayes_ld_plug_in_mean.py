"""The robust setting's LD-sampling plug-ins h and omega are held at their burn-in means.

GCTB 2.05's SBayes sweep (model.cpp, ApproxBayesS::SnpEffects::sampleFromFC, lines 2793 and
2919; ApproxBayesC's alike) gives SNP j the residual variance LDsamplVar_j * varg + vare
with the *current* GenVar at every iteration, so its posterior averages over GenVar's.
bayesmix holds h = GenVar / sig2_e (and omega) fixed after burn-in; held at one burn-in
state's value, every chain targeted a different density (SBayesS on a 20,000-SNP shrunk LD:
hsq 0.329 / 0.354 / 0.340 for seeds 1-3, GCTB 0.3298-0.3304 over four seeds). They are now
held at the means over the settings of the burn-in's second half; the expected values here
are recomputed from the chain's states with dense numpy: h = |X beta|^2 / n / sig2_e, and,
with LDsamplVar_j = 1 for every SNP (K = (1 + h) I, no ridge), omega = the share of
2 beta'X'y - beta'X'X beta kept at h = 1 / (1 + h).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest

from bayesmix.errors import InputError
from bayesmix.inference.chain import ChainSettings, chain_seeds, run_chains
from bayesmix.inference.sbayes_gibbs import LDSamplingRatioPlugIn, make_sbayes_steps
from bayesmix.inference.step_base import MIN_PLUG_IN_BURN_IN, PLUG_IN_EVERY, PLUG_IN_WARM_UP
from bayesmix.io.plink import Genotypes
from bayesmix.models.sbayes import SAMPLING_RATIO, SAMPLING_WEIGHT, SBayesModel
from test_sbayes_model import summary_from_design


@pytest.fixture(scope="module")
def design(bfile22):
    """150 SNPs x 503 people of chr22, 5 causal SNPs, standardised genotypes and phenotype."""
    geno = Genotypes.open(bfile22)
    cols = np.arange(6000, 6150)
    dosages = geno.read(cols, standardize=False).astype(np.float64)
    snps = geno.snps.iloc[cols].reset_index(drop=True)
    xs = (dosages - dosages.mean(0)) / dosages.std(0)
    b = np.zeros(len(cols))
    b[[10, 40, 70, 100, 140]] = [0.3, -0.25, 0.2, 0.2, -0.15]
    y = xs @ b + np.random.default_rng(3).normal(size=len(xs))
    return xs, (y - y.mean()) / y.std(ddof=1), snps


def _sets(t: int, burn_in: int) -> bool:
    """BurnInPlugIn's schedule: burn-in iteration t (1-based) sets the plug-ins."""
    return t <= PLUG_IN_WARM_UP or (burn_in - t) % PLUG_IN_EVERY == 0


@pytest.mark.parametrize("burn_in", [240, 7, MIN_PLUG_IN_BURN_IN])
def test_held_plug_ins_are_the_means_over_the_burn_ins_second_half(design, burn_in):
    xs, y, snps = design
    n = len(y)
    model = SBayesModel(summary_from_design(xs, y, snps), "C", robust=True, ridge=0.0)
    assert model.has_sampling_ratio
    steps = make_sbayes_steps(model)
    plug_in = next(s for s in steps if isinstance(s, LDSamplingRatioPlugIn))
    draws = 15
    for step, rng in zip(steps, chain_seeds(11, 0, len(steps))):
        step.setup_chain(rng, burn_in, draws)
    point = model.initial_point()
    state_h, held = {}, []
    for t in range(1, burn_in + draws + 1):
        for step in steps:
            if step is plug_in:  # the state the plug-in reads: dense numpy, not the sampler's
                beta = np.asarray(point["beta"], dtype=np.float64)
                sig2_e = float(model.derived_value(point, "sig2_e"))
                state_h[t] = float(np.sum((xs @ beta) ** 2)) / n / sig2_e
            point, _ = step.step(point)
            if step is plug_in:
                held.append((float(point[SAMPLING_RATIO]), float(point[SAMPLING_WEIGHT])))
        if t == burn_in:
            for step in steps:
                step.stop_tuning()
    averaged = [state_h[t] for t in range(1, burn_in + 1)
                if _sets(t, burn_in) and 2 * t > burn_in]
    h_mean = np.mean(averaged)
    omega_mean = np.mean([1.0 / (1.0 + h) for h in averaged])
    # each setting before the last is the state's own h and 1 / (1 + h)
    for t in range(1, burn_in):
        if _sets(t, burn_in):
            assert held[t - 1][0] == pytest.approx(state_h[t], rel=1e-6), t
            assert held[t - 1][1] == pytest.approx(1.0 / (1.0 + state_h[t]), rel=1e-6), t
    # from the last burn-in iteration on: the means, held
    for h, omega in held[burn_in - 1:]:
        assert h == pytest.approx(h_mean, rel=1e-6)
        assert omega == pytest.approx(omega_mean, rel=1e-6)
    if len(averaged) > 1:  # the test tells the mean from the last state's value
        assert abs(state_h[burn_in] - h_mean) > 1e-4 * h_mean
    # the first setting reads the empty start (h = 0); the shortest burn-in allowed holds the
    # state of a swept chain
    assert state_h[1] == 0.0 and h_mean > 0.0


def test_a_burn_in_too_short_to_set_the_plug_ins_is_refused(design):
    """With --burn-in 0 the plug-ins were never set: the run used h and omega at their
    starting values (from the starting hsq) while its log said the correction was on, and on
    GCTB's benchmark shape (benchmarks/sbayes_startup.py, gctb_like) SBayesR's ResVar settled
    at 0.86 instead of the 0.72 of any burn-in from 20 on; sig2_beta's prior scale (every
    SBayes model adapts it) kept its start. With 1, the LD plug-ins are set once, from the
    empty start (h = 0: no correction). Both are refused, by run_chains and pm.sample."""
    xs, y, snps = design
    for robust, plug_in in ((True, "ld_sampling_ratio_plug_in"),
                            (False, "slab_scale_plug_in")):
        model = SBayesModel(summary_from_design(xs, y, snps), "C", robust=robust, ridge=0.0)
        assert model.has_sampling_ratio == robust
        for step in make_sbayes_steps(model):  # each plug-in step refuses on its own
            if step.name == plug_in:
                with pytest.raises(InputError, match=f"{plug_in}.*at least {MIN_PLUG_IN_BURN_IN}"):
                    step.setup_chain(np.random.default_rng(0), MIN_PLUG_IN_BURN_IN - 1, 5)
        for burn_in in range(MIN_PLUG_IN_BURN_IN):
            with pytest.raises(InputError, match=f"a burn-in of {burn_in} \\(--burn-in"):
                run_chains(model, make_sbayes_steps, ChainSettings(
                    chain_length=5, burn_in=burn_in, thin=1, out_freq=0, seed=1))
        with model.model, pytest.raises(InputError, match="pm.sample's tune"):
            pm.sample(draws=3, tune=0, chains=1, cores=1, step=make_sbayes_steps(model),
                      progressbar=False, compute_convergence_checks=False)


def test_the_sums_are_part_of_the_checkpointed_state(design):
    xs, y, snps = design
    model = SBayesModel(summary_from_design(xs, y, snps), "C", robust=True, ridge=0.0)
    plug_in = next(s for s in make_sbayes_steps(model) if isinstance(s, LDSamplingRatioPlugIn))
    plug_in.ratio_sum, plug_in.weight_sum, plug_in.n_averaged = 1.5, 0.25, 3
    state = plug_in.sampling_state
    other = next(s for s in make_sbayes_steps(model) if isinstance(s, LDSamplingRatioPlugIn))
    other.sampling_state = state
    assert (other.ratio_sum, other.weight_sum, other.n_averaged) == (1.5, 0.25, 3)
