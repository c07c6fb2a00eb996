"""Scaled-inverse-chi-square priors on variances (conjugate to normal effects and residuals).

``ScaledInvChi2(nu, s2)`` is the law of nu s2 / chi2_nu, i.e. InverseGamma(nu / 2, nu s2 / 2);
it is declared as a PyMC InverseGamma so any PyMC tool understands it, and
:func:`scaled_inv_chi2_params` recognises it again in a graph (the conjugacy check of the
Gibbs steps). Given k normal draws b_i ~ N(0, w_i sigma^2), the posterior of sigma^2 is
ScaledInvChi2(nu + k, (nu s2 + sum b_i^2 / w_i) / (nu + k)).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
from pytensor.graph.basic import Variable
from pytensor.tensor.random.basic import InvGammaRV

from bayesmix.distributions.graph import constant_value


def ScaledInvChi2(name: str, nu: float, s2, **kwargs):
    """A scaled-inverse-chi-square(nu, s2) random variable in the current PyMC model.

    Parameters
    ----------
    nu : degrees of freedom (> 0).
    s2 : scale (> 0); the prior mean is nu s2 / (nu - 2) for nu > 2. A number, an array, or
        a PyTensor variable (e.g. a plug-in variable of the model).
    kwargs : passed to ``pm.InverseGamma`` (shape, dims, initval ...). The variable is left
        untransformed (Gibbs steps write it directly) unless ``default_transform`` is given.
    """
    kwargs.setdefault("default_transform", None)
    nu = np.asarray(nu, dtype=np.float64)
    if not isinstance(s2, Variable):
        s2 = np.asarray(s2, dtype=np.float64)
    return pm.InverseGamma(name, alpha=nu / 2.0, beta=nu * s2 / 2.0, **kwargs)


def scaled_inv_chi2_graphs(rv):
    """(nu, s2) of an inverse-gamma variable as graphs (they may read other variables, e.g.
    a plug-in scale), else None."""
    if rv.owner is None or not isinstance(rv.owner.op, InvGammaRV):
        return None
    alpha, beta = rv.owner.op.dist_params(rv.owner)
    nu = 2.0 * alpha
    return nu, 2.0 * beta / nu


def scaled_inv_chi2_params(rv):
    """(nu, s2) if ``rv`` is an inverse-gamma variable with constant parameters, else None."""
    if rv.owner is None or not isinstance(rv.owner.op, InvGammaRV):
        return None
    alpha, beta = (constant_value(p) for p in rv.owner.op.dist_params(rv.owner))
    if alpha is None or beta is None:
        return None
    nu = 2.0 * np.asarray(alpha, dtype=np.float64)
    return nu, 2.0 * np.asarray(beta, dtype=np.float64) / nu


def draw_scaled_inv_chi2(rng: np.random.Generator, dof, scale):
    """One draw (or an array of draws) of dof * scale / chi2_dof."""
    dof = np.asarray(dof, dtype=np.float64)
    return dof * np.asarray(scale, dtype=np.float64) / rng.chisquare(dof)
