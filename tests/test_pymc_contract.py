"""The alphabet's steps keep PyMC's step-method contract (issue 12, first part).

- ``pm.sample()`` without bayesmix's steps is refused for mixture effects instead of returning
  a posterior in which NUTS never left the spike (an inclusion probability of 0 for a strong
  true effect).
- Every chain starts from the same step state (``setup_chain`` / ``reset_tuning``): in a
  multi-chain ``pm.sample`` each chain tunes its adaptive Metropolis steps (a swapped prior,
  BayesS's joint move) from the initial scale for the whole tuning phase, and ``cores=2``
  (steps pickled to worker processes) gives exactly the draws of ``cores=1``.
"""

import numpy as np
import pymc as pm
import pytest

from bayesmix.distributions.effects import GibbsStepsNeeded
from bayesmix.inference.gibbs import ShapeScaleMetropolis, make_steps
from bayesmix.inference.step_base import MarkovBlanketMetropolis
from bayesmix.models.alphabet import AlphabetModel, AlphabetPrior
from bayesmix.prepare.alphabet_data import AlphabetData

from chain_models import cohort, sbayes_r

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def tiny(method, **prior):
    dosages, _, y, _ = cohort(seed=3, n=120, m=25)
    hyper = {"pi": lambda name: pm.Uniform(name, 0.0, 0.5)} if method == "C" else None
    data = AlphabetData.from_arrays(dosages, y, standardize=method != "S")
    return AlphabetModel(data, AlphabetPrior(method, **prior), hyperpriors=hyper)


@pytest.mark.parametrize("build", [lambda: tiny("C"), lambda: sbayes_r()])
def test_pm_sample_without_the_gibbs_steps_is_refused(build):
    model = build()
    with model.model:
        with pytest.raises(GibbsStepsNeeded, match="make_steps"):
            pm.sample(draws=5, tune=5, chains=1, progressbar=False, compute_convergence_checks=False)


def _posterior(model, seeds, cores):
    with model.model:
        tree = pm.sample(draws=25, tune=30, chains=len(seeds), cores=cores, random_seed=seeds,
                         step=make_steps(model), progressbar=False,
                         compute_convergence_checks=False)
    return {name: tree.posterior[name].values for name in ("beta", "sig2_e", "sig2_beta")}


@pytest.mark.parametrize("method,adaptive", [("C", MarkovBlanketMetropolis),
                                             ("S", ShapeScaleMetropolis)])
def test_every_chain_tunes_from_the_same_step_state(method, adaptive, monkeypatch):
    model = tiny(method)
    assert any(isinstance(s, adaptive) for s in make_steps(model))
    seen = []  # (tuning?, tuning updates so far, scale) at every call, all chains in order
    original = adaptive.step

    def spy(self, point):
        seen.append((self.tune, self.n_tuned, np.array(self.log_scale, copy=True)))
        return original(self, point)

    monkeypatch.setattr(adaptive, "step", spy)
    chains = 3
    one = _posterior(model, [11, 12, 13], cores=1)
    monkeypatch.setattr(adaptive, "step", original)
    assert len(seen) == chains * 55
    for c in range(chains):
        calls = seen[c * 55:(c + 1) * 55]
        assert [t for t, _, _ in calls] == [True] * 30 + [False] * 25, c
        assert [n for _, n, _ in calls[:30]] == list(range(30)), c
        np.testing.assert_array_equal(calls[0][2], seen[0][2])  # the initial scale again
    parallel = _posterior(model, [11, 12, 13], cores=2)
    for name, values in one.items():
        np.testing.assert_array_equal(values, parallel[name], err_msg=name)


def test_adaptive_steps_tune_every_chain():
    """setup_chain restarts the tuning: the scale and count of the previous chain are gone."""
    model = tiny("C")
    step = next(s for s in make_steps(model) if isinstance(s, MarkovBlanketMetropolis))
    initial = step.log_scale.copy()
    step.setup_chain(np.random.default_rng(0), 30, 10)
    point = model.initial_point()
    for _ in range(30):
        point, _ = step.step(point)
    assert step.n_tuned == 30 and not np.array_equal(step.log_scale, initial)
    step.stop_tuning()
    state = step.sampling_state
    assert state.n_tuned == 30 and state.tune is False
    step.setup_chain(np.random.default_rng(1), 30, 10)
    assert step.tune and step.n_tuned == 0
    np.testing.assert_array_equal(step.log_scale, initial)
    step.sampling_state = state  # what a checkpoint restores
    assert step.n_tuned == 30 and not step.tune
