"""Every gradient the MiXeR Ops report equals finite differences of their log-likelihood, and
gradients they cannot honour (the sampled "full" likelihood in pi, logp-only variants) are
refused instead of being reported as 0.

Truth: central (or, at the pi = 1 boundary, one-sided) finite differences of the Op's own
logp output, at random parameter points and on random data."""

import math

import numpy as np
import pytest

from bayesmix.models.mixer import UnivariateLikelihood, simulate_z_from_model
from bayesmix.prepare.mixer_data import MixerData


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(21)
    base, r = MixerData.synthetic(400, block_size=40, n=1e5, rng=rng)
    pi = 0.05
    z, _ = simulate_z_from_model(base, r, (pi, 0.3 / (pi * base.sum_het), 1.1), rng=rng)
    return base.with_z(z)


def op_functions(like):
    """Compiled (logp, d logp / d theta) of the model's Op and its logp alone."""
    import pytensor
    import pytensor.tensor as pt

    from bayesmix.ops.mixer import univariate_loglik

    theta = pt.dvector("theta")
    logp = univariate_loglik(like, theta)
    with_grad = pytensor.function([theta], [logp, pytensor.grad(logp, theta)],
                                  mode="FAST_COMPILE")
    only = pytensor.function([theta], logp, mode="FAST_COMPILE")
    return with_grad, only


def central_difference(f, x, i, rel=1e-5):
    h = rel * abs(x[i])
    up, down = x.copy(), x.copy()
    up[i] += h
    down[i] -= h
    return (f(up) - f(down)) / (2 * h)


def random_points(rng, sum_het, k):
    """(pi, sig2_beta, sig2_zero) with pi in [1e-3, 0.5], h2 in [0.05, 0.8]."""
    for _ in range(k):
        pi = 10 ** rng.uniform(-3, math.log10(0.5))
        h2 = rng.uniform(0.05, 0.8)
        yield np.array([pi, h2 / (pi * sum_het), rng.uniform(0.9, 1.3)])


@pytest.mark.parametrize("method,censor_z", [("fast", 0.0), ("fast", 2.5),
                                             ("convolve", 0.0), ("convolve", 2.5),
                                             ("infinitesimal", 0.0), ("infinitesimal", 2.5)])
def test_reported_gradients_equal_finite_differences(data, method, censor_z):
    like = UnivariateLikelihood(data, method, censor_z=censor_z)
    with_grad, only = op_functions(like)
    rng = np.random.default_rng([len(method), int(censor_z * 10)])
    for x in random_points(rng, data.sum_het, 3):
        logp, grad = with_grad(x)
        assert logp == pytest.approx(only(x), rel=1e-12)
        for i in range(3):
            fd = central_difference(only, x, i)
            if method == "infinitesimal" and i == 0:
                # theta[0] is not read: the value is constant and the gradient exactly 0
                assert fd == 0.0 and grad[0] == 0.0
                continue
            assert grad[i] == pytest.approx(fd, rel=2e-4, abs=1e-6 * abs(logp)), (x, i)


def test_fast_gradient_in_pi_at_the_boundary_pi_1(data):
    """At pi = 1 the fast model's null weight vanishes; the reported derivative is the
    derivative from below (one-sided difference), not the causal component's part alone."""
    like = UnivariateLikelihood(data, "fast")
    with_grad, only = op_functions(like)
    x = np.array([1.0, 0.3 / data.sum_het, 1.1])
    _, grad = with_grad(x)
    for h in (1e-6, 1e-7):
        below = x.copy()
        below[0] -= h
        fd = (only(x) - only(below)) / h
        assert grad[0] == pytest.approx(fd, rel=1e-3)


def test_full_likelihood_refuses_gradients(data):
    """d/d pi of the sampled likelihood is undefined: pytensor.grad raises, naming why, also
    for a gradient in sig2_beta alone (theta is one input); the kernel's gradient output
    holds NaN for pi instead of a silent 0; its sig2_beta and sig2_zero entries are right."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.gradient import NullTypeGradError

    from bayesmix.ops.mixer import univariate_loglik

    like = UnivariateLikelihood(data, "full", kmax=40)
    theta = pt.dvector("theta")
    logp = univariate_loglik(like, theta)
    with pytest.raises(NullTypeGradError, match="piecewise constant in pi"):
        pytensor.grad(logp, theta)
    sb = pt.dscalar("sb")
    logp_sb = univariate_loglik(like, pt.stack([pt.constant(0.05), sb, pt.constant(1.1)]))
    with pytest.raises(NullTypeGradError, match="gradient-free"):
        pytensor.grad(logp_sb, sb)
    x = np.array([0.05, 0.3 / (0.05 * data.sum_het), 1.1])
    value, grad = like.logp_grad(x)
    assert np.isnan(grad[0])
    for i in (1, 2):
        fd = central_difference(like.logp, x, i)
        assert grad[i] == pytest.approx(fd, rel=2e-4)


def test_full_model_graph_is_gradient_free_for_pymc(data):
    """The PyMC graph on the full likelihood has no dlogp, so NUTS is refused (and
    pm.find_MAP falls back to the gradient-free Powell method with a warning)."""
    import pymc as pm
    from pytensor.gradient import NullTypeGradError

    from bayesmix.models.mixer import UnivariateMixer

    model = UnivariateMixer(data, method="full", kmax=40)
    with pytest.raises(NullTypeGradError):
        model.compile_dlogp()
    with model, pytest.raises(NullTypeGradError, match="piecewise constant"):
        pm.NUTS()


def test_logp_only_variant_refuses_gradients(data):
    import pytensor
    import pytensor.tensor as pt
    from pytensor.gradient import NullTypeGradError

    from bayesmix.ops.mixer import UnivariateMixerLogp, likelihood_data

    like = UnivariateLikelihood(data, "convolve")
    op = UnivariateMixerLogp("convolve", with_grad=False)
    theta = pt.dvector("theta")
    logp = op(theta, *[pt.as_tensor_variable(a) for a in likelihood_data(like).values()])[0]
    with pytest.raises(NullTypeGradError, match="does not compute gradients"):
        pytensor.grad(logp, theta)


def test_bivariate_gradients_equal_finite_differences(data):
    """The bivariate fast Op's 9 partial derivatives at random points (all smooth)."""
    import pytensor
    import pytensor.tensor as pt

    from bayesmix.prepare.mixer_data import BivariateData
    from bayesmix.ops.mixer_bivariate import bivariate_loglik

    rng = np.random.default_rng(5)
    z2 = 0.5 * data.z + rng.normal(0, 1.0, data.n_tags)
    pair = BivariateData.from_mixer_data(data, data.z, z2, 1e5, 8e4)
    theta = pt.dvector("theta")
    logp = bivariate_loglik(pair, theta)
    with_grad = pytensor.function([theta], [logp, pytensor.grad(logp, theta)],
                                  mode="FAST_COMPILE")
    only = pytensor.function([theta], logp, mode="FAST_COMPILE")
    for _ in range(4):
        pis = 10 ** rng.uniform(-3, -1, 3)
        x = np.concatenate([pis, 10 ** rng.uniform(-4, -3, 2), rng.uniform(-0.9, 0.9, 1),
                            rng.uniform(0.9, 1.3, 2), rng.uniform(-0.5, 0.5, 1)])
        value, grad = with_grad(x)
        for i in range(9):
            fd = central_difference(only, x, i)
            assert grad[i] == pytest.approx(fd, rel=2e-4, abs=1e-6 * abs(value)), (x, i)
