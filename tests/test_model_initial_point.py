"""The samplers' start: the graph's initial point evaluated op by op equals PyMC's own."""

import numpy as np
import pymc as pm
import pytest

from bayesmix.distributions.graph import model_initial_point
from bayesmix.models.alphabet import AlphabetModel, AlphabetPrior
from bayesmix.models.sbayes import SBayesModel
from tests.test_alphabet_steps import small_data
from tests.test_sbayes_model import summary_from_design

pytestmark = pytest.mark.filterwarnings("ignore:Numba will use object mode")


def models():
    """Models whose free variables cover PyMC's transforms (log, logodds, interval, simplex,
    none), initial values given by ``initval`` and by support points, and vector variables."""
    data = small_data(m=30)
    unscaled = small_data(m=30, standardize=False)
    yield "C", AlphabetModel(data, "C")
    yield "R", AlphabetModel(data, AlphabetPrior("R", gamma=(0.0, 0.01, 0.1, 1.0)))
    yield "B", AlphabetModel(data, "B")
    yield "S", AlphabetModel(unscaled, "S")
    yield "swapped", AlphabetModel(data, "C", hyperpriors={
        "pi": lambda name: pm.Uniform(name, 0.0, 1.0),
        "sig2_e": lambda name: pm.HalfNormal(name, 2.0),
        "sig2_beta": lambda name: pm.LogNormal(name, -3.0, 1.0)})
    x = data.genotypes.dense()
    y = data.y - data.y.mean()
    yield "SBayes robust", SBayesModel(summary_from_design(x, y, _snp_table(x.shape[1])), "R")


def _snp_table(m):
    import pandas as pd

    return pd.DataFrame({"chr": "1", "snp": [f"rs{j}" for j in range(m)],
                         "bp": np.arange(1, m + 1) * 1000, "a1": "A", "a2": "G",
                         "freq": np.linspace(0.1, 0.5, m)})


@pytest.mark.parametrize("name, model", list(models()), ids=lambda v: v if isinstance(v, str)
                         else "")
def test_evaluated_initial_point_equals_pymcs(name, model):
    ours = model_initial_point(model.model)
    pymc = model.model.initial_point()
    assert set(ours) == set(pymc)
    for key in pymc:
        assert ours[key].dtype == np.asarray(pymc[key]).dtype, key
        np.testing.assert_array_equal(ours[key], pymc[key], err_msg=key)
