"""The base of bayesmix's Gibbs and Metropolis step methods (PyMC ``BlockedStep`` contract).

- :class:`AlphabetStep`: holds the model wrapper, the shared residuals and a generator;
  PyMC's per-chain ``setup_chain`` resets both.
- :class:`Adaptive` / :class:`AdaptiveStepState`: random-walk scale tuning that restarts per
  chain and lives in PyMC's ``sampling_state`` (so checkpoints keep it).
- :class:`MarkovBlanketMetropolis`: the fallback step for any hyperparameter no specialised
  step recognises; :func:`blanket_logp` / :func:`logp_terms`: the log density terms such
  steps evaluate, derived once per model.
- :class:`BurnInPlugIn` / :class:`PlugInState`: steps that set plug-in variables of the graph
  from the chain during burn-in and then hold them, on a schedule their state keeps.

The specialised steps (:mod:`bayesmix.inference.gibbs`, :mod:`bayesmix.inference.effect_steps`,
:mod:`bayesmix.inference.sbayes_gibbs`) build on these; keeping them here lets those modules
import each other one way only.
"""

from __future__ import annotations

import math
import weakref
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from pymc.step_methods.compound import BlockedStep, Competence, StepMethodState
from pymc.step_methods.state import dataclass_state
from pytensor.graph.traversal import ancestors
from pytensor.tensor import as_tensor
from pytensor.tensor.math import variadic_add

from bayesmix.distributions.graph import small_graph_mode
from bayesmix.errors import InputError


#: model -> (its random variables, {random variable: its log density term}), see
#: :func:`logp_terms`; entries go with their model
_LOGP_TERMS = weakref.WeakKeyDictionary()


def logp_terms(model) -> dict:
    """The log density term of each random variable of ``model`` (value space, with the
    transforms' Jacobians): ``model.logp(vars=model.basic_RVs, sum=False)``, derived once per
    model (again if its random variables changed).

    PyMC's ``model.logp(vars=...)`` derives the terms of every variable of the model whichever
    are asked for (~35 ms for a BayesS model, as much as compiling the blanket density), so
    the Markov-blanket steps of one model (BayesS's S step and its joint (S, sig2_beta) move,
    and those of every chain) share one derivation. The terms are PyMC's own graphs, so a
    density built from them is the one ``model.logp`` builds."""
    rvs = tuple(model.basic_RVs)
    cached = _LOGP_TERMS.get(model)
    if cached is None or cached[0] != rvs:
        cached = (rvs, dict(zip(rvs, model.logp(vars=list(rvs), sum=False))))
        _LOGP_TERMS[model] = cached
    return cached[1]


def blanket_logp(model, rvs):
    """``model.logp(vars=rvs, sum=True)`` (the same graph: each term summed, then added in
    the order of ``rvs``) from the model's shared :func:`logp_terms`."""
    terms = logp_terms(model)
    return variadic_add(*(as_tensor(terms[rv]).sum() for rv in rvs))


@dataclass(frozen=True)
class SweepStatistics:
    """Per-component sums an effects sweep returned, with the arrays they describe (held:
    steps never modify a point's arrays in place, so the same objects mean the same values).

    counts : (K,) int64, SNPs in each component; ssq : (K,) float64, sum of beta_j^2 / v_j
    over each component's SNPs, for the effects ``beta`` and labels ``comp`` the sweep
    returned and the per-SNP divisors ``var_scale`` (M,) it used; ``unit_scale``: whether
    those are all 1 (one slab variance for every SNP)."""

    beta: np.ndarray
    comp: np.ndarray
    counts: np.ndarray
    ssq: np.ndarray
    var_scale: np.ndarray
    unit_scale: bool

    def describes(self, point) -> bool:
        """Whether ``point`` holds the effects and labels of the sweep."""
        return point["beta"] is self.beta and point["comp"] is self.comp


class AlphabetStep(BlockedStep):
    """Base of the alphabet steps: holds the model wrapper, the shared residuals and an RNG.

    Its PyMC ``sampling_state`` is the generator (``StepMethodState``; adaptive steps add
    their tuning state), which is also what checkpoints store.

    ``monitoring``: whether the statistics that only feed the monitor (the effects steps'
    ``genetic_variance``, a product with the LD) are computed this iteration; otherwise they
    are NaN. ``pm.sample`` records every draw's statistics, so it stays True there;
    :func:`bayesmix.inference.chain.run_chain` turns it off for iterations that are neither
    kept, printed nor the last.
    """

    _state_class = StepMethodState
    monitoring = True

    def __init__(self, vars, *, alphabet, residuals=None, model=None, rng=None, blocked=True):
        self.alphabet = alphabet
        self.model = alphabet.model
        self.vars = [self.model.rvs_to_values[v] for v in vars]
        self.residuals = residuals
        self.rng = np.random.default_rng(rng)

    def setup_chain(self, rng, tune, draws) -> None:
        """PyMC's per-chain reset: this chain's generator, and the residuals recomputed."""
        super().setup_chain(rng, tune, draws)
        if self.residuals is not None:
            self.residuals.reset()

    @contextmanager
    def updating_residuals(self):
        """Around a step that updates ``self.residuals`` in place before committing its new
        point: if it is interrupted in between (a signal surfacing inside or right after a
        numba sweep, in immediate mode), the cached residuals belong to effects that were
        never returned, so they are forgotten and recomputed from the point at the next sync."""
        try:
            yield
        except BaseException:
            self.residuals.reset()
            raise

    def swept_statistics(self, point) -> SweepStatistics | None:
        """The last effects sweep's :class:`SweepStatistics` (kept by the shared residuals of
        the steps whose sweep returns them, as ``swept``) when ``point`` holds the effects and
        labels it returned, else None: a conjugate step then need not pass over every SNP
        again."""
        swept = getattr(self.residuals, "swept", None)
        return swept if swept is not None and swept.describes(point) else None

    @staticmethod
    def competence(var, has_grad):
        # these steps need the model wrapper (make_steps builds them); PyMC's automatic
        # assignment is refused for the effects by bayesmix.distributions.effects instead
        return Competence.INCOMPATIBLE


@dataclass_state
class AdaptiveStepState(StepMethodState):
    """PyMC sampling state of the adaptive Metropolis steps: the generator (base class), the
    log proposal scale(s), the number of tuning updates so far and whether still tuning."""

    log_scale: object
    n_tuned: int
    tune: bool


class Adaptive:
    """Per-chain tuning of a random-walk scale (PyMC's contract): ``setup_chain`` and
    ``reset_tuning`` restart it from the initial scale, ``stop_tuning`` freezes it, and the
    whole state is the step's ``sampling_state`` (checkpoints, PyMC's chain restarts)."""

    _state_class = AdaptiveStepState
    target_acceptance = 0.44

    def setup_chain(self, rng, tune, draws) -> None:
        super().setup_chain(rng, tune, draws)
        self.reset_tuning()
        self.tune = tune > 0

    def reset_tuning(self) -> None:
        self.log_scale = np.array(self._initial_log_scale, dtype=np.float64)
        self.n_tuned = 0
        self.tune = True

    def _adapt(self, accepted: np.ndarray | float, index=...) -> None:
        """Robbins-Monro step of the log scale towards ``target_acceptance``."""
        self.log_scale[index] += ((np.asarray(accepted, np.float64) - self.target_acceptance)
                                  / math.sqrt(self.n_tuned + 10))


#: plug-ins follow the chain at each of the first burn-in iterations, while the state moves
#: fastest from the empty start, then every PLUG_IN_EVERY-th, ending with the last one
PLUG_IN_WARM_UP = 100
PLUG_IN_EVERY = 10
#: fewest burn-in iterations of a chain with plug-in steps. The plug-ins are set from the
#: chain's state during burn-in only, and a plug-in that reads the previous iteration's state
#: (robust SBayes) sees the empty start in the first: with a burn-in of 0 or 1 they would keep
#: their starting values, a different analysis from the one the run reports
MIN_PLUG_IN_BURN_IN = 2


def too_short_burn_in(burn_in: int, plug_ins: str) -> InputError:
    """The error refusing a burn-in of fewer than :data:`MIN_PLUG_IN_BURN_IN` iterations for
    a chain with plug-ins (``plug_ins`` says what they are)."""
    return InputError(
        f"a burn-in of {burn_in} (--burn-in, or pm.sample's tune) is too short for "
        f"{plug_ins}: they are set from the chain during burn-in and held after it, so they "
        f"would keep their starting values (GCTB updates them as its chain runs, whatever the "
        f"burn-in). Use a burn-in of at least {MIN_PLUG_IN_BURN_IN} iterations (the default "
        f"is 1,000, as GCTB's)")


@dataclass_state
class PlugInState(StepMethodState):
    """Sampling state of a :class:`BurnInPlugIn`: the generator, the tuning flag and the
    burn-in iterations done and planned."""

    tune: bool
    tuned: int
    tuning: int


class BurnInPlugIn(AlphabetStep):
    """Base of the steps that set plug-in variables of the graph (``pm.Flat`` values that
    other variables' densities read) from the chain's state during burn-in and then hold
    them, so that after burn-in every other step targets one fixed density.

    :meth:`_sets_plug_ins` says whether this burn-in iteration sets them: each of the first
    :data:`PLUG_IN_WARM_UP`, then every :data:`PLUG_IN_EVERY`-th counted back from the last
    burn-in iteration, which always does. Without a planned burn-in length (a caller that
    never calls ``setup_chain``) every iteration sets them until ``stop_tuning``.
    A subclass that averages over the burn-in zeroes its sums in :meth:`_reset_sums`, called
    at construction and at the start of every chain. A chain of fewer than
    :data:`MIN_PLUG_IN_BURN_IN` burn-in iterations is refused (``setup_chain``: run_chains
    and ``pm.sample`` alike); :attr:`plug_in_role` names what would be left unset.
    """

    _state_class = PlugInState
    #: what the plug-ins are, for the error refusing a too short burn-in
    plug_in_role = "plug-in variables of the graph"

    def __init__(self, vars, **kwargs):
        super().__init__(vars, **kwargs)
        self.tune, self.tuned, self.tuning = True, 0, 0
        self._reset_sums()

    def setup_chain(self, rng, tune, draws) -> None:
        if tune < MIN_PLUG_IN_BURN_IN:
            raise too_short_burn_in(tune, f"the values of the plug-in step {self.name!r} "
                                          f"({self.plug_in_role})")
        super().setup_chain(rng, tune, draws)
        self.tune, self.tuned, self.tuning = tune > 0, 0, int(tune)
        self._reset_sums()

    def _reset_sums(self) -> None:
        """Zero the sums a subclass keeps over the burn-in (none here)."""

    def _sets_plug_ins(self) -> bool:
        """Whether this burn-in iteration sets the plug-ins (counts it as done)."""
        self.tuned += 1
        left = self.tuning - self.tuned  # burn-in iterations after this one
        return self.tuned <= PLUG_IN_WARM_UP or left <= 0 or left % PLUG_IN_EVERY == 0


class MarkovBlanketMetropolis(Adaptive, AlphabetStep):
    """Adaptive random-walk Metropolis on one variable, element by element.

    Works in the value (unconstrained) space of the variable and evaluates only the terms of
    ``model.logp`` that involve it: its own prior and the densities of its direct children
    (e.g. for pi: the component labels; for sig2_beta or S: the effects), never the whole
    model. During tuning (burn-in) the proposal scale of each element is adapted towards an
    acceptance rate of 0.44 (Robbins-Monro on the log scale); afterwards it is frozen, so the
    chain is a valid Metropolis-within-Gibbs sampler.
    """

    name = "markov_blanket_metropolis"
    stats_dtypes_shapes = {"accepted": (np.float64, [])}

    def __init__(self, vars, *, scale: float = 0.5, **kwargs):
        super().__init__(vars, **kwargs)
        if len(vars) != 1:
            raise ValueError("MarkovBlanketMetropolis updates one variable at a time")
        rv = vars[0]
        others = [r for r in self.model.basic_RVs if r is not rv]
        children = [r for r in others  # direct children only: stop at other random variables
                    if rv in set(ancestors(r.owner.inputs, blockers=others))]
        self.blanket = [rv.name] + [c.name for c in children]
        self._logp = self.model.compile_fn(blanket_logp(self.model, [rv, *children]),
                                           inputs=self.model.value_vars,
                                           on_unused_input="ignore", point_fn=False,
                                           mode=small_graph_mode())
        self._logp.trust_input = True  # points hold arrays of the value variables' dtypes
        self.value_name = self.vars[0].name
        size = int(np.prod(np.shape(self.alphabet.initial_point()[self.value_name])))
        self._initial_log_scale = np.full(size, math.log(scale))
        self.reset_tuning()

    def _eval(self, point):
        return float(self._logp(*[point[v.name] for v in self.model.value_vars]))

    def step(self, point):
        work = dict(point)
        name = self.value_name
        shape = np.shape(point[name])
        flat = np.array(point[name], dtype=np.float64).ravel()
        work[name] = flat.reshape(shape)
        logp = self._eval(work)
        accepted = 0
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + math.exp(self.log_scale[i]) * self.rng.standard_normal()
            proposal = self._eval(work)
            accept = math.log(self.rng.random()) < proposal - logp
            if accept:
                logp = proposal
                accepted += 1
            else:
                flat[i] = old
            if self.tune:
                self._adapt(float(accept), i)
        if self.tune:
            self.n_tuned += 1
        new = dict(point)
        new[name] = flat.reshape(shape)
        return new, [{"accepted": accepted / flat.size}]
