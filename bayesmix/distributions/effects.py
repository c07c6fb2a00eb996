"""Effect-size priors of the Bayesian alphabet as PyMC distributions.

Each SNP j carries a component label c_j ~ Categorical(pi) and an effect

    beta_j | c_j ~ N(0, gamma[c_j] v_j),   gamma[c_j] v_j = 0 meaning beta_j = 0 exactly,

so one family covers spike-and-slab (BayesC: gamma = (0, 1)), the normal mixture of BayesR
(gamma = (0, 0.01, 0.1, 1)), the MAF-scaled slab of BayesS (v_j = H_j^S sig2_beta on the
per-allele scale), and the t slab of BayesB (v_j ~ ScaledInvChi2 per SNP, so beta_j | c_j = 1
is Student-t). The density is taken with respect to Lebesgue measure on slab SNPs and
counting measure at 0 on spike SNPs; a non-zero effect in a spike component has log
density -inf.

Composed priors (docs/composition.md) replace the weights by per-SNP weights pi_jk (e.g.
:func:`annotation_weights`) and v_j by any per-SNP expression (a scale mixture with a
per-SNP variance, or a function of a covariate such as :func:`covariate_scaled_variance`).
"""

from __future__ import annotations

import weakref

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.step_methods import STEP_METHODS
from pymc.step_methods.compound import BlockedStep, Competence

from bayesmix.errors import BayesmixError, InputError

#: effect vectors declared with :func:`NormalMixtureEffects` (for :class:`NeedsGibbsSteps`)
_MIXTURE_EFFECTS = weakref.WeakSet()
#: weights tensor of :func:`annotation_weights` -> (annotations (M, A), theta tensor), so a
#: step can recognise the multinomial-logistic structure (``annotation_structure``)
_ANNOTATION_WEIGHTS = weakref.WeakKeyDictionary()


def spike_slab_weights(pi):
    """Mixture weights (1 - pi, pi) of a two-component spike-and-slab prior (BayesC)."""
    return pt.stack([1.0 - pi, pi])


def maf_scaled_variance(sig2_beta, heterozygosity, S):
    """BayesS slab variance H_j^S sig2_beta (per-allele scale; H_j = 2 p_j (1 - p_j))."""
    return sig2_beta * pt.pow(pt.as_tensor_variable(np.asarray(heterozygosity, np.float64)), S)


def annotation_weights(annotations, theta):
    """Per-SNP mixture weights pi_j = softmax([0, A_j theta]) (M, K), SBayesRC's idea.

    Parameters
    ----------
    annotations : (M, A) array of SNP annotations A_j (include a column of ones for an
        intercept).
    theta : (A, K - 1) tensor of log-odds coefficients of components 1..K-1 against
        component 0 (the baseline, usually the spike); (A,) for two components, where
        pi_j1 = 1 / (1 + exp(-A_j theta)).
    """
    annotations = np.ascontiguousarray(annotations, np.float64)
    if annotations.ndim != 2:
        raise InputError(f"annotations must be an (SNPs, annotations) matrix, got shape "
                         f"{annotations.shape}")
    theta = theta_in = pt.as_tensor_variable(theta)
    if theta.ndim == 1:
        theta = theta[:, None]
    logits = pt.dot(pt.as_tensor_variable(annotations), theta)
    logits = pt.concatenate([pt.zeros((annotations.shape[0], 1)), logits], axis=1)
    weights = pt.special.softmax(logits, axis=1)
    _ANNOTATION_WEIGHTS[weights] = (annotations, theta_in)
    return weights


def annotation_structure(weights):
    """(annotations (M, A), theta) if ``weights`` came from :func:`annotation_weights`."""
    return _ANNOTATION_WEIGHTS.get(weights)


def covariate_scaled_variance(sig2_beta, covariate, alpha):
    """Slab variance v_j = sig2_beta exp(alpha x_j) of a per-SNP covariate x_j (e.g. an LD
    score, centred so that sig2_beta is the variance at the average SNP)."""
    return sig2_beta * pt.exp(alpha * pt.as_tensor_variable(np.asarray(covariate, np.float64)))


def _mixture_effects_logp(beta, var):
    slab = var > 0
    safe_var = pt.switch(slab, var, 1.0)
    normal = -0.5 * (pt.log(2.0 * np.pi * safe_var) + beta**2 / safe_var)
    spike = pt.switch(pt.eq(beta, 0.0), 0.0, -np.inf)
    return pt.switch(slab, normal, spike)


def _mixture_effects_random(var, rng=None, size=None):
    return rng.standard_normal(size=np.shape(var) if size is None else size) * np.sqrt(var)


def NormalMixtureEffects(name: str, comp, gamma, slab_var, **kwargs):
    """Effects beta_j | c_j ~ N(0, gamma[c_j] slab_var_j) with exact zeros for gamma = 0.

    Parameters
    ----------
    comp : integer vector (M,) of component labels (usually a ``pm.Categorical``).
    gamma : (K,) component variance multipliers, gamma[0] = 0 for a spike.
    slab_var : scalar or (M,) slab variance on the scale of the design matrix.
    kwargs : shape / dims of the effect vector.
    """
    gamma = pt.as_tensor_variable(np.asarray(gamma, np.float64))
    var = gamma[comp] * slab_var
    beta = pm.CustomDist(name, var, logp=_mixture_effects_logp,
                         random=_mixture_effects_random, **kwargs)
    _MIXTURE_EFFECTS.add(beta)
    return beta


class GibbsStepsNeeded(BayesmixError, ValueError):
    """PyMC was about to sample mixture effects with a generic step method."""


class NeedsGibbsSteps(BlockedStep):
    """Claims, through PyMC's ``competence``, every effect vector declared with
    :func:`NormalMixtureEffects` that no step was given for, and refuses to sample it.

    No generic step method samples these effects correctly: a gradient method (NUTS, PyMC's
    default for a continuous vector) never moves an exact zero of the spike, so a strong true
    effect keeps a posterior inclusion probability of 0. ``pm.sample()`` without bayesmix's
    steps therefore stops with this error instead of returning a silently wrong posterior.
    """

    name = "needs_gibbs_steps"

    def __init__(self, vars, model=None, **kwargs):
        names = ", ".join(getattr(v, "name", "?") for v in vars)
        raise GibbsStepsNeeded(
            f"{names}: spike-and-slab / normal-mixture effects cannot be sampled by PyMC's "
            "generic step methods (NUTS never leaves an exact zero, so inclusion "
            "probabilities would be silently 0). Sample the bayesmix model with its Gibbs "
            "steps: bayesmix.inference.gibbs.sample(model) or "
            "pm.sample(step=make_steps(model)) (bayesmix.inference.sbayes_gibbs."
            "make_sbayes_steps for SBayes models), or bayesmix.inference.chain.run_chains.")

    @staticmethod
    def competence(var, has_grad):
        return Competence.IDEAL if var in _MIXTURE_EFFECTS else Competence.INCOMPATIBLE

    def step(self, point):  # never reached: __init__ refuses
        raise GibbsStepsNeeded("mixture effects need bayesmix's Gibbs steps")


if NeedsGibbsSteps not in STEP_METHODS:
    STEP_METHODS.append(NeedsGibbsSteps)
