"""Bivariate MiXeR causal mixture model of two traits' z-scores (polygenic overlap).

:func:`BivariateMixer` declares the PyMC graph: the overlap parameters and the fast
likelihood of :mod:`bayesmix.kernels.mixer_bivariate` as a ``pm.Potential`` through the fused
Op of :mod:`bayesmix.ops.mixer_bivariate`. The maximum-likelihood fit sequence lives in
:mod:`bayesmix.inference.mle_bivariate`; data in
:class:`bayesmix.prepare.mixer_data.BivariateData`.

Scales: pi1, pi2 (unique) and pi12 (shared) are fractions of the M reference SNPs;
sig2_beta1/2 per-allele effect variances; rho12 the effect correlation of shared variants;
sig2_zero1/2 and rho0 the residual z variances and correlation (sample overlap).
"""

from __future__ import annotations

from dataclasses import dataclass

from bayesmix.errors import InputError
from bayesmix.kernels.mixer_bivariate import PARAM_NAMES


@dataclass(frozen=True)
class UnivariateParams:
    """Univariate MiXeR estimates of one trait: causal fraction ``pi`` (of the M reference
    SNPs), per-allele effect variance ``sig2_beta``, residual variance ``sig2_zero``."""

    pi: float
    sig2_beta: float
    sig2_zero: float

    @classmethod
    def coerce(cls, value) -> "UnivariateParams":
        """From a :class:`~bayesmix.inference.mle.UnivariateFit`, a dict (optionally MiXeR
        JSON with ``params``) or a (pi, sig2_beta, sig2_zero) sequence."""
        if isinstance(value, cls):
            return value
        if hasattr(value, "params") and isinstance(value.params, dict):
            value = value.params
        if isinstance(value, dict):
            source = value.get("params", value)
            try:
                out = cls(float(source["pi"]), float(source["sig2_beta"]),
                          float(source["sig2_zero"]))
            except KeyError as exc:
                raise InputError(f"univariate parameters lack {exc.args[0]!r}") from None
        else:
            out = cls(*map(float, value))
        if not (0 < out.pi <= 1 and out.sig2_beta > 0 and out.sig2_zero > 0):
            raise InputError(f"univariate parameters out of range: {out}")
        return out


def BivariateMixer(data, *, uni1=None, uni2=None, priors: dict | None = None, model=None):
    """PyMC graph of the bivariate model; returns the ``pm.Model``.

    With ``uni1``/``uni2`` (univariate fits; see
    :class:`UnivariateParams`) the univariate parameters
    are fixed, as in MiXeR's fit2, and the free variables are ``share`` = pi12 / min(pi1_u,
    pi2_u) ~ Uniform(0, 1), ``rho12`` and ``rho0`` ~ Uniform(-1, 1); deterministic ``pi1``,
    ``pi2``, ``pi12`` and ``rg`` are recorded. Without them all 9 parameters are free (pi's
    Uniform(0, 1), variances HalfFlat, correlations Uniform(-1, 1)). ``priors`` maps a free
    variable's name to ``name -> PyMC random variable`` to replace its default prior.
    """
    import pymc as pm
    import pytensor.tensor as pt

    from bayesmix.ops.mixer_bivariate import bivariate_loglik

    priors = dict(priors or {})
    if (uni1 is None) != (uni2 is None):
        raise ValueError("give both univariate fits or neither")
    with pm.Model(model=model) as m:
        if uni1 is not None:
            u1, u2 = UnivariateParams.coerce(uni1), UnivariateParams.coerce(uni2)
            defaults = {"share": lambda n: pm.Uniform(n, 0.0, 1.0),
                        "rho12": lambda n: pm.Uniform(n, -1.0, 1.0),
                        "rho0": lambda n: pm.Uniform(n, -1.0, 1.0)}
            _check(priors, defaults)
            share, rho12, rho0 = (priors.get(k, defaults[k])(k) for k in defaults)
            pi12 = pm.Deterministic("pi12", share * min(u1.pi, u2.pi))
            pi1 = pm.Deterministic("pi1", u1.pi - pi12)
            pi2 = pm.Deterministic("pi2", u2.pi - pi12)
            pm.Deterministic("rg", rho12 * pi12 / (u1.pi * u2.pi) ** 0.5)
            theta = pt.stack([pi1, pi2, pi12, u1.sig2_beta, u2.sig2_beta, rho12, u1.sig2_zero,
                              u2.sig2_zero, rho0])
        else:
            defaults = {}
            for name in PARAM_NAMES:
                if name.startswith("pi"):
                    defaults[name] = lambda n: pm.Uniform(n, 0.0, 1.0)
                elif name.startswith("rho"):
                    defaults[name] = lambda n: pm.Uniform(n, -1.0, 1.0)
                else:
                    defaults[name] = lambda n: pm.HalfFlat(n)
            _check(priors, defaults)
            theta = pt.stack([priors.get(k, defaults[k])(k) for k in PARAM_NAMES])
        pm.Potential("loglik", bivariate_loglik(data, theta))
    return m


def _check(priors, defaults):
    unknown = set(priors) - set(defaults)
    if unknown:
        raise ValueError(f"priors given for unknown parameters {sorted(unknown)}")
