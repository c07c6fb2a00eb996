"""A model dropped frees its data. PyMC registers each ``pm.CustomDist``'s log density in
global dispatch tables for good; a log density closing over the model kept every model built
alive with its LD (the eigen cut-off tuning leaked one copy of the eigenvectors per cut-off:
1 GB at 1.1M SNPs)."""

import gc
import pickle
import weakref

import numpy as np
import pytest
from chain_models import bayes_r, sbayes_eigen_r, sbayes_r

from bayesmix.distributions.graph import WeakLogp
from bayesmix.inference.chain import ChainSettings, run_chains
from bayesmix.inference.gibbs import make_steps
from bayesmix.inference.sbayes_eigen_gibbs import make_eigen_steps
from bayesmix.inference.sbayes_gibbs import make_sbayes_steps


# The logp is compiled by PyTensor's numba linker once (its caches must not hold the data
# either) and by the Python linker for the other models (numba took 20 s for BayesR's graph).
# Under numba only the terms that read the data, the likelihood and the effects' prior: the
# component labels' Categorical term alone took 9 of the whole logp's 12 s to compile.
@pytest.mark.parametrize("make, steps, mode", [
    (bayes_r, make_steps, "FAST_COMPILE"),  # individual data: the genotypes
    (lambda: sbayes_r(robust=False), make_sbayes_steps, "NUMBA"),
    (lambda: sbayes_r(robust=True), make_sbayes_steps, "FAST_COMPILE"),  # plug-ins h, omega
    (sbayes_eigen_r, make_eigen_steps, "FAST_COMPILE"),
], ids=["bayes", "sbayes", "sbayes-robust", "sbayes-eigen"])
def test_a_dropped_model_frees_its_data(make, steps, mode):
    model = make()
    terms = ([model.model["beta"], *model.model.observed_RVs] if mode == "NUMBA"
             else None)
    logp = model.model.compile_logp(vars=terms, mode=mode)
    assert np.isfinite(logp(model.model.initial_point()))
    run_chains(model, steps, ChainSettings(chain_length=3, burn_in=2, thin=1, out_freq=0))
    data = weakref.ref(model.data)
    del model, logp
    gc.collect()
    assert data() is None


class Scaled:
    """An object with a method, for :class:`WeakLogp`."""

    def __init__(self, factor):
        self.factor = factor

    def density(self, value, shift):
        return self.factor * value + shift


def test_weak_logp_calls_its_method_does_not_hold_the_object_and_pickles_with_it():
    owner = Scaled(3.0)
    logp = WeakLogp(owner.density)
    assert logp(2.0, 1.0) == 7.0
    owner_copy, logp_copy = pickle.loads(pickle.dumps((owner, logp)))
    assert logp_copy(2.0, 1.0) == 7.0
    owner_copy.factor = 5.0  # the copy is bound to the copied object
    assert logp_copy(2.0, 1.0) == 11.0
    del owner
    gc.collect()
    with pytest.raises(RuntimeError, match="no longer exists"):
        logp(2.0, 1.0)
