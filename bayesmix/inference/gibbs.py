"""Gibbs step methods for the Bayesian alphabet, usable in ``pm.sample`` and our chain driver.

One concept per step (all :class:`pymc.step_methods.compound.BlockedStep`):

- :class:`EffectsGibbs` - (beta, comp): the numba single-site sweep with a residual vector.
- :class:`FixedEffectsGibbs` - alpha (flat prior): a multivariate normal draw.
- :class:`MixtureWeightsGibbs` - pi: Beta / Dirichlet prior with constant parameters.
- :class:`EffectVarianceGibbs` - sig2_beta: scaled-inv-chi2 prior with constant parameters.
- :class:`SnpVarianceGibbs` - BayesB's SNP variances (scaled-inv-chi2, one per SNP).
- :class:`ResidualVarianceGibbs` - sig2_e: scaled-inv-chi2 prior with constant parameters.
- :class:`MarkovBlanketSlice` - any other scalar/vector hyperparameter (BayesS's S, or a prior
  the user swapped in): univariate slice sampling on the log density of the variable's
  Markov blanket only (its prior plus its children's terms), never the whole model.

Each conjugate step has a ``recognises(alphabet, rv)`` class method that inspects the prior in
the graph (its distribution and whether its parameters are constants); :func:`make_steps`
assigns the first step that recognises a variable and falls back to the slice step.

Steps that need the residual vector e = y - C alpha - X beta share one :class:`Residuals`
object. It keeps e in sync with whatever point it is given (after another step changed beta
or alpha it applies the difference), so steps can be combined with any PyMC step.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pymc as pm
from pymc.step_methods.compound import BlockedStep, Competence
from pytensor.graph.traversal import ancestors
from pytensor.tensor.random.basic import BetaRV, DirichletRV

from bayesmix.distributions.graph import constant_value
from bayesmix.distributions.variance import draw_scaled_inv_chi2, scaled_inv_chi2_params
from bayesmix.kernels.gibbs import sweep_normal_mixture


class Residuals:
    """The residual vector e = y - C alpha - X beta of one chain, kept in sync with points."""

    def __init__(self, alphabet):
        self.alphabet = alphabet
        self.reset()

    def reset(self) -> None:
        """Forget e (a new chain starts); the next :meth:`sync` recomputes it."""
        self.e = None
        self.beta = None
        self.alpha = None

    def sync(self, point) -> np.ndarray:
        """e for ``point``: recomputed, or updated by the effects that changed since last seen."""
        data = self.alphabet.data
        beta = np.asarray(point["beta"], dtype=np.float64)
        alpha = np.asarray(point["alpha"], dtype=np.float64)
        if self.e is None:
            self.e = data.y - data.design @ alpha - data.genotypes.matvec(beta)
        else:
            if not np.array_equal(beta, self.beta):
                self.e += data.genotypes.matvec(self.beta - beta)
            if not np.array_equal(alpha, self.alpha):
                self.e += data.design @ (self.alpha - alpha)
        self.beta, self.alpha = beta.copy(), alpha.copy()
        return self.e

    def commit(self, *, beta=None, alpha=None) -> None:
        """Record that e already accounts for these new values (the caller updated e)."""
        if beta is not None:
            self.beta = np.array(beta, dtype=np.float64)
        if alpha is not None:
            self.alpha = np.array(alpha, dtype=np.float64)

    def state(self) -> dict:
        return {"e": None if self.e is None else self.e.copy(), "beta": self.beta, "alpha": self.alpha}

    def set_state(self, state: dict) -> None:
        self.e, self.beta, self.alpha = state["e"], state["beta"], state["alpha"]


class AlphabetStep(BlockedStep):
    """Base of the alphabet steps: holds the model wrapper, the shared residuals and an RNG."""

    def __init__(self, vars, *, alphabet, residuals=None, model=None, rng=None, blocked=True):
        self.alphabet = alphabet
        self.model = alphabet.model
        self.vars = [self.model.rvs_to_values[v] for v in vars]
        self.residuals = residuals
        self.rng = np.random.default_rng(rng)

    def setup_chain(self, rng, tune, draws) -> None:
        super().setup_chain(rng, tune, draws)
        if self.residuals is not None:
            self.residuals.reset()

    def state(self) -> dict:
        """Everything needed to resume this step bit for bit (checkpoints)."""
        return {"rng": self.rng.bit_generator.state}

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    @staticmethod
    def competence(var, has_grad):
        return Competence.INCOMPATIBLE  # assigned explicitly by make_steps, never automatically


class EffectsGibbs(AlphabetStep):
    """Joint single-site Gibbs update of every (comp_j, beta_j): one numba sweep."""

    name = "effects_gibbs"
    stats_dtypes_shapes = {"n_nonzero": (np.int64, []), "genetic_variance": (np.float64, []),
                           "sweep_seconds": (np.float64, [])}

    def step(self, point):
        alphabet = self.alphabet
        geno = alphabet.data.genotypes
        derived = alphabet.derived(point)
        e = self.residuals.sync(point)
        beta = np.array(point["beta"], dtype=np.float64)
        comp = np.array(point["comp"])
        started = time.perf_counter()
        n_nonzero = sweep_normal_mixture(
            geno.codes, geno.center, geno.scale, geno.missing_ptr, geno.missing_idx, geno.xtx,
            geno.colsum, e, beta, comp, alphabet.gamma, derived["slab_var"], derived["log_pi"],
            derived["sig2_e"], self.rng)
        seconds = time.perf_counter() - started
        self.residuals.commit(beta=beta)
        genetic = alphabet.data.y - alphabet.data.design @ np.asarray(point["alpha"]) - e
        new = dict(point)
        new["beta"], new["comp"] = beta, comp
        return new, [{"n_nonzero": int(n_nonzero), "genetic_variance": float(np.var(genetic)),
                      "sweep_seconds": seconds}]


class ConjugateStep(AlphabetStep):
    """A closed-form update of one variable; ``recognises`` checks its prior in the graph."""

    role = ""  # the name of the variable this step can update

    @classmethod
    def recognises(cls, alphabet, rv) -> bool:
        raise NotImplementedError

    @property
    def rv(self):
        return self.model[self.role]


class FixedEffectsGibbs(ConjugateStep):
    """alpha | rest ~ N((C'C)^-1 C'(e + C alpha), sig2_e (C'C)^-1) under a flat prior."""

    name = "fixed_effects_gibbs"
    role = "alpha"

    def __init__(self, vars, **kwargs):
        super().__init__(vars, **kwargs)
        design = self.alphabet.data.design
        gram = design.T @ design
        self._chol_inv = np.linalg.cholesky(np.linalg.inv(gram))
        self._solve = np.linalg.solve(gram, design.T)

    @classmethod
    def recognises(cls, alphabet, rv) -> bool:
        return rv.name == cls.role and type(rv.owner.op).__name__ == "FlatRV"

    def step(self, point):
        design = self.alphabet.data.design
        e = self.residuals.sync(point)
        alpha_old = np.asarray(point["alpha"], dtype=np.float64)
        sig2_e = self.alphabet.derived(point)["sig2_e"]
        mean = self._solve @ (e + design @ alpha_old)
        alpha = mean + math.sqrt(sig2_e) * self._chol_inv @ self.rng.standard_normal(len(mean))
        e += design @ (alpha_old - alpha)
        self.residuals.commit(alpha=alpha)
        new = dict(point)
        new["alpha"] = alpha
        return new, [{}]


class MixtureWeightsGibbs(ConjugateStep):
    """pi | comp: Beta(a + #slab, b + #spike) or Dirichlet(a + counts); constant a, b."""

    name = "mixture_weights_gibbs"
    role = "pi"

    @classmethod
    def recognises(cls, alphabet, rv) -> bool:
        if rv.name != cls.role or alphabet.model.rvs_to_transforms.get(rv) is not None:
            return False
        if not isinstance(rv.owner.op, (BetaRV, DirichletRV)):
            return False
        return all(constant_value(p) is not None for p in rv.owner.op.dist_params(rv.owner))

    def step(self, point):
        rv = self.rv
        params = [np.asarray(constant_value(p), np.float64) for p in rv.owner.op.dist_params(rv.owner)]
        counts = np.bincount(np.asarray(point["comp"]), minlength=self.alphabet.n_components)
        new = dict(point)
        if isinstance(rv.owner.op, BetaRV):
            new["pi"] = np.asarray(self.rng.beta(params[0] + counts[1], params[1] + counts[0]))
        else:
            new["pi"] = self.rng.dirichlet(params[0] + counts)
        return new, [{}]


class _ScaledInvChi2Step(ConjugateStep):
    @classmethod
    def recognises(cls, alphabet, rv) -> bool:
        return (rv.name == cls.role and alphabet.model.rvs_to_transforms.get(rv) is None
                and scaled_inv_chi2_params(rv) is not None)

    def prior(self):
        return scaled_inv_chi2_params(self.rv)


class EffectVarianceGibbs(_ScaledInvChi2Step):
    """sig2_beta | beta, comp ~ ScaledInvChi2(nu + k, (nu s2 + sum beta_j^2 / w_j) / (nu + k)).

    k is the number of non-zero effects and w_j = gamma[c_j] v_j / sig2_beta the relative
    prior variance of effect j (gamma_k for BayesR, H_j^S for BayesS).
    """

    name = "effect_variance_gibbs"
    role = "sig2_beta"

    def step(self, point):
        nu, s2 = self.prior()
        sig2_beta = float(point["sig2_beta"])
        slab = self.alphabet.derived(point)["slab_var"]
        comp = np.asarray(point["comp"])
        rel = self.alphabet.gamma[comp] * slab / sig2_beta
        active = rel > 0
        beta = np.asarray(point["beta"])[active]
        dof = nu + active.sum()
        scale = (nu * s2 + float((beta**2 / rel[active]).sum())) / dof
        new = dict(point)
        new["sig2_beta"] = np.asarray(draw_scaled_inv_chi2(self.rng, dof, scale))
        return new, [{}]


class SnpVarianceGibbs(_ScaledInvChi2Step):
    """BayesB: v_j | beta_j ~ ScaledInvChi2(nu + 1, (nu s2 + beta_j^2) / (nu + 1)) for slab SNPs,
    the prior ScaledInvChi2(nu, s2) for spike SNPs."""

    name = "snp_variance_gibbs"
    role = "snp_var"

    def step(self, point):
        nu, s2 = self.prior()
        comp = np.asarray(point["comp"])
        beta = np.asarray(point["beta"])
        slab = self.alphabet.gamma[comp] > 0
        dof = np.where(slab, nu + 1.0, nu)
        scale = np.where(slab, (nu * s2 + beta**2) / (nu + 1.0), s2)
        new = dict(point)
        new["snp_var"] = draw_scaled_inv_chi2(self.rng, dof, scale)
        return new, [{}]


class ResidualVarianceGibbs(_ScaledInvChi2Step):
    """sig2_e | e ~ ScaledInvChi2(nu + n, (nu s2 + e'e) / (nu + n))."""

    name = "residual_variance_gibbs"
    role = "sig2_e"

    def step(self, point):
        nu, s2 = self.prior()
        e = self.residuals.sync(point)
        dof = nu + len(e)
        new = dict(point)
        new["sig2_e"] = np.asarray(draw_scaled_inv_chi2(self.rng, dof, (nu * s2 + float(e @ e)) / dof))
        return new, [{}]


class MarkovBlanketSlice(AlphabetStep):
    """Univariate slice sampling (stepping out, shrinkage; Neal 2003) of one variable.

    Works in the value (unconstrained) space of the variable and evaluates only the terms of
    ``model.logp`` that involve it: its own prior and the priors/likelihoods of its children.
    The interval width adapts to the typical move size during tuning.
    """

    name = "markov_blanket_slice"
    stats_dtypes_shapes = {"logp_evaluations": (np.int64, [])}

    def __init__(self, vars, *, width: float = 1.0, max_steps: int = 30, **kwargs):
        super().__init__(vars, **kwargs)
        if len(vars) != 1:
            raise ValueError("MarkovBlanketSlice updates one variable at a time")
        rv = vars[0]
        children = [r for r in self.model.basic_RVs
                    if r is not rv and rv in set(ancestors(r.owner.inputs))]
        self.blanket = [rv.name] + [c.name for c in children]
        value_var = self.vars[0]
        logp = self.model.logp(vars=[rv, *children], sum=True)
        self._logp = self.model.compile_fn(logp, inputs=self.model.value_vars,
                                           on_unused_input="ignore", point_fn=False)
        self.value_name = value_var.name
        self.width = float(width)
        self.max_steps = int(max_steps)
        self.tune = True
        self._moves = []

    def __getstate__(self):
        return dict(self.__dict__)

    def _eval(self, point, name, flat_value, shape):
        point[name] = flat_value.reshape(shape)
        return float(self._logp(*[point[v.name] for v in self.model.value_vars]))

    def step(self, point):
        work = dict(point)
        name = self.value_name
        current = np.array(point[name], dtype=np.float64)
        shape = current.shape
        flat = current.ravel().copy()
        evals = 0
        logp = self._eval(work, name, flat, shape)
        evals += 1
        for i in range(flat.size):
            level = logp + math.log(self.rng.random())
            x0 = flat[i]
            left = x0 - self.width * self.rng.random()
            right = left + self.width
            for _ in range(self.max_steps):
                flat[i] = left
                evals += 1
                if not self._eval(work, name, flat, shape) > level:
                    break
                left -= self.width
            for _ in range(self.max_steps):
                flat[i] = right
                evals += 1
                if not self._eval(work, name, flat, shape) > level:
                    break
                right += self.width
            while True:
                flat[i] = left + (right - left) * self.rng.random()
                new_logp = self._eval(work, name, flat, shape)
                evals += 1
                if new_logp > level:
                    logp = new_logp
                    break
                if flat[i] < x0:
                    left = flat[i]
                else:
                    right = flat[i]
                if right - left < 1e-12:
                    flat[i] = x0
                    logp = self._eval(work, name, flat, shape)
                    break
            if self.tune:
                self._moves.append(abs(flat[i] - x0))
                if len(self._moves) >= 20:
                    self.width = max(2.0 * float(np.mean(self._moves)), 1e-6)
                    self._moves.clear()
        new = dict(point)
        new[name] = flat.reshape(shape)
        return new, [{"logp_evaluations": evals}]

    def state(self) -> dict:
        return {**super().state(), "width": self.width, "moves": list(self._moves)}

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self.width, self._moves = state["width"], list(state["moves"])


CONJUGATE_STEPS = (FixedEffectsGibbs, MixtureWeightsGibbs, EffectVarianceGibbs, SnpVarianceGibbs,
                   ResidualVarianceGibbs)


def make_steps(alphabet, *, rng=None) -> list[BlockedStep]:
    """The step list for an :class:`~bayesmix.models.alphabet.AlphabetModel`.

    The effects sweep comes first, then one step per other free variable: the first
    conjugate step that recognises the variable's prior, else :class:`MarkovBlanketSlice`.
    Random generators are spawned from ``rng`` (pm.sample and the chain driver re-seed them
    per chain through ``setup_chain``).
    """
    model = alphabet.model
    residuals = Residuals(alphabet)
    others = [rv for rv in model.free_RVs if rv.name not in (alphabet.effects_name, alphabet.component_name)]
    seeds = np.random.default_rng(rng).spawn(len(others) + 1)
    steps = [EffectsGibbs([model["beta"], model["comp"]], alphabet=alphabet, residuals=residuals,
                          model=model, rng=seeds[0])]
    for rv, seed in zip(others, seeds[1:]):
        chosen = next((cls for cls in CONJUGATE_STEPS if cls.recognises(alphabet, rv)), None)
        if chosen is None:
            steps.append(MarkovBlanketSlice([rv], alphabet=alphabet, residuals=residuals,
                                            model=model, rng=seed))
        else:
            steps.append(chosen([rv], alphabet=alphabet, residuals=residuals, model=model, rng=seed))
    return steps


def sample(alphabet, draws: int = 1000, tune: int = 500, chains: int = 2, cores: int = 1,
           random_seed=None, **kwargs):
    """``pm.sample`` with the alphabet's steps, hyperparameters traced, per-SNP draws too.

    For large M prefer :func:`bayesmix.inference.chain.run_chains`, which keeps per-SNP
    summaries online instead of storing every draw.
    """
    kwargs.setdefault("compute_convergence_checks", False)
    kwargs.setdefault("progressbar", False)
    with alphabet.model:
        return pm.sample(draws=draws, tune=tune, chains=chains, cores=cores,
                         random_seed=random_seed, step=make_steps(alphabet), **kwargs)
