"""The Bayesian alphabet on individual genotypes (BayesB/C/S/R, nested BayesN/NS) as PyMC graphs.

    y = C alpha + X beta + e,   e ~ N(0, sig2_e I)

X is the genotype matrix (standardised by default; centred per-allele counts with
``standardize=False``, which BayesS always uses, as GCTB does), C the covariate design
(intercept first), and every SNP has a component label c_j ~ Categorical(pi) and an effect
beta_j | c_j ~ N(0, gamma[c_j] v_j) (spike at 0 when gamma = 0):

=========  ==================================  ====================================
method     weights pi                          slab variance v_j (scale of X)
=========  ==================================  ====================================
C          (1 - pi, pi), pi ~ Beta(1, 1)       sig2_beta
R          pi ~ Dirichlet(1, ..., 1)           sig2_beta, gamma = (0, .01, .1, 1)
S          (1 - pi, pi)                        sig2_beta H_j^S, S ~ N(0, 1)
B          (1 - pi, pi)                        v_j ~ ScaledInvChi2(nu, s2) (t slab)
N / NS     as C / S, nested in windows         as C / S
=========  ==================================  ====================================

BayesN / BayesNS group SNPs in non-overlapping windows (``wind`` Mb, by chromosome and base
pair): window w has delta_w ~ Bernoulli(pi_window) and SNP j of window w enters the likelihood
as delta_w beta_j, while (c_j, beta_j) keep the C / S prior in every window (the augmented
"pseudo-prior" parametrisation GCTB uses). The reported effect is delta_w beta_j. As in GCTB,
``pi`` / ``Pi`` of N/NS is pi_window, the share of windows with an effect; the within-window
SNP share (the C / S ``pi``) is ``pi_snp`` / ``PiSnp``.

sig2_beta and sig2_e have scaled-inverse-chi-square priors (4 degrees of freedom, scales set
from the starting heritability ``hsq`` as GCTB does); alpha is flat. Every prior can be
replaced from Python through ``hyperpriors`` (:data:`HYPERPRIOR_KEYS`): a random variable
(``pi``, ``sig2_beta``, ``sig2_e``, ``S``, BayesB's ``snp_var``, BayesN/NS's ``pi_window``)
by a callable(name) creating its replacement inside the model, and the effect prior itself
through its two pieces, the mixture weights (``weights``: shared (K,) or per SNP (M, K), e.g.
from annotations) and the slab variance (``slab_var``: scalar or (M,), e.g. per-SNP variances
of a scale mixture, or a function of a covariate), each a callable(default) returning a PyMC
expression (``default()`` declares the model's own). The Gibbs steps recognise conjugate
priors and leave any other to a Metropolis step on its Markov blanket
(:func:`bayesmix.inference.gibbs.make_steps`; docs/composition.md).

The graph is complete: ``model.logp()`` is the joint log density (X beta through a numba Op on
the int8 genotypes). The effects need the Gibbs sweep, though: no generic PyMC step moves an
exact zero of the spike, so ``pm.sample()`` without ``step=make_steps(...)`` is refused
(:class:`bayesmix.distributions.effects.NeedsGibbsSteps`) rather than returning inclusion
probabilities of 0; hyperparameters may take any PyMC step.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pytensor.graph.traversal import ancestors

from bayesmix.distributions.effects import (NormalMixtureEffects, annotation_structure,
                                            maf_scaled_variance, spike_slab_weights)
from bayesmix.distributions.genetic_values import as_float64, genetic_values
from bayesmix.distributions.graph import NumpyProgram, model_initial_point, small_graph_mode
from bayesmix.distributions.variance import ScaledInvChi2
from bayesmix.errors import InputError
from bayesmix.kernels.gibbs import annotation_softmax, component_counts
from bayesmix.models.gctb_defaults import GCTB_GAMMA, GCTB_HSQ, GCTB_PI_R
from bayesmix.prepare.alphabet_data import AlphabetData

METHODS = ("B", "C", "S", "R", "N", "NS")
NESTED = {"N": "C", "NS": "S"}
DEFAULT_GAMMA = (0.0, 0.01, 0.1, 1.0)  # BayesR's four components (GCTB 2.0's documented default)
DEFAULT_PI_R = (0.95, 0.02, 0.02, 0.01)
DEFAULT_PI = 0.05
DEFAULT_PI_WINDOW = DEFAULT_PI  # BayesN/NS: share of windows with an effect (GCTB: --pi)
DEFAULT_HSQ = 0.5
# BayesR's starting weights when none are given, by number of components
DEFAULT_PI_R_BY_K = {len(DEFAULT_PI_R): DEFAULT_PI_R, len(GCTB_PI_R): GCTB_PI_R}
# what ``hyperpriors`` can replace: random variables (callable(name) -> random variable) and
# the two pieces of the effect prior (callable(default) -> PyMC expression)
PRIOR_VARIABLES = ("pi", "sig2_beta", "sig2_e", "S", "snp_var", "pi_window")
EFFECT_PRIOR_PIECES = ("weights", "slab_var")
HYPERPRIOR_KEYS = PRIOR_VARIABLES + EFFECT_PRIOR_PIECES
#: sig2_beta's prior scale where it is a burn-in plug-in (GCTB adapts it; see
#: :meth:`AlphabetModel.adapts_slab_scale`)
SLAB_SCALE = "sig2_beta_scale"

warnings.filterwarnings("ignore", message="Numba will use object mode to run Genotype")


@dataclass
class AlphabetPrior:
    """Settings of an alphabet model (GCTB option names in brackets).

    method : one of B, C, S, R (``--bayes``).
    pi : starting value(s) of the mixture weights (``--pi``): the non-zero share for B/C/S,
        the K weights for R (default :data:`DEFAULT_PI_R_BY_K` for 4 or 5 components, else
        equal); with ``fix_pi`` (``--fix-pi``) they are not sampled. For N/NS, as in GCTB,
        ``pi`` is the share of WINDOWS with an effect (default start 0.05, Beta(1, 1) prior;
        ``fix_pi`` fixes it).
    gamma : R's component variance multipliers (``--gamma``), first 0 (default
        :data:`DEFAULT_GAMMA`, four components; :meth:`gctb` takes GCTB 2.05's five).
    hsq : starting heritability (``--hsq``) that sets the starting values and prior scales
        (default 0.5; GCTB 2.05's is 0.1, :meth:`gctb`).
    S : starting value of BayesS's S (``--S``).
    nu_beta, nu_e : degrees of freedom of the scaled-inv-chi2 priors of sig2_beta, sig2_e.
    nu_snp : BayesB's degrees of freedom of the SNP variances (t slab).
    wind : BayesN/NS window width in Mb (``--wind``).
    pi_snp : BayesN/NS: starting share of SNPs with an effect inside windows (``--pi-snp``,
        default 0.05, Beta(1, 1) prior); ``fix_pi_snp`` (``--fix-pi-snp``) fixes it.
    """

    method: str = "C"
    pi: tuple | float | None = None
    gamma: tuple | None = None
    hsq: float = DEFAULT_HSQ
    S: float = 0.0
    fix_pi: bool = False
    nu_beta: float = 4.0
    nu_e: float = 4.0
    nu_snp: float = 4.0
    wind: float = 1.0
    pi_snp: float | None = None
    fix_pi_snp: bool = False

    @classmethod
    def gctb(cls, method: str, **settings) -> "AlphabetPrior":
        """The prior with GCTB 2.05's defaults for what ``settings`` leaves out: starting hsq
        :data:`GCTB_HSQ`, and for R the five components :data:`GCTB_GAMMA` (``bayesmix-gctb``'s
        defaults)."""
        defaults = {"hsq": GCTB_HSQ, "gamma": GCTB_GAMMA if str(method).upper() == "R" else None}
        return cls(method, **{**defaults, **settings})

    def __post_init__(self):
        self.method = str(self.method).upper()
        if self.method not in METHODS:
            raise InputError(f"unknown method Bayes{self.method}; choose one of {', '.join(METHODS)}")
        if not 0 < self.hsq < 1:
            raise InputError(f"hsq must be in (0, 1), got {self.hsq}")
        if not self.wind > 0:
            raise InputError(f"--wind must be positive (Mb), got {self.wind}")
        if not np.isfinite(self.S):
            raise InputError(f"--S must be a finite number, got {self.S}")
        if not self.nested and (self.pi_snp is not None or self.fix_pi_snp):
            raise InputError("--pi-snp / --fix-pi-snp apply to BayesN and BayesNS only")
        if self.nested:
            self.pi_window_start  # validated here, at argument time
        self.pi_values  # and so are --pi (--pi-snp) and --gamma
        if (self.method == "R" and self.fix_pi and self.pi is None
                and len(self.gamma_values) not in DEFAULT_PI_R_BY_K):
            raise InputError(f"--fix-pi keeps the mixture weights at --pi, which has no default "
                             f"for {len(self.gamma_values)} --gamma values (equal weights would "
                             f"be fixed): give --pi with {len(self.gamma_values)} values")

    @property
    def pi_window_start(self) -> float:
        """N/NS: starting share of windows with an effect (``--pi``, GCTB's Pi)."""
        p = np.ravel(np.asarray(DEFAULT_PI_WINDOW if self.pi is None else self.pi, np.float64))
        if p.size != 1 or not 0 < p[0] < 1:
            raise InputError(f"--pi of BayesN/NS is the share of windows with an effect: one "
                             f"value in (0, 1), got {self.pi}")
        return float(p[0])

    @property
    def snp_weights_fixed(self) -> bool:
        """Whether the SNP-level mixture weights are constants (``--fix-pi``; N/NS: ``--fix-pi-snp``)."""
        return self.fix_pi_snp if self.nested else self.fix_pi

    @property
    def base(self) -> str:
        """The SNP-level prior: C for N, S for NS, the method itself otherwise."""
        return NESTED.get(self.method, self.method)

    @property
    def nested(self) -> bool:
        return self.method in NESTED

    @property
    def gamma_values(self) -> np.ndarray:
        if self.method != "R":
            return np.array([0.0, 1.0])
        gamma = np.asarray(DEFAULT_GAMMA if self.gamma is None else self.gamma, np.float64)
        if gamma.ndim != 1 or len(gamma) < 2 or gamma[0] != 0 or (gamma[1:] <= 0).any():
            raise InputError("--gamma must start with 0 and list positive values after it")
        return gamma

    @property
    def pi_values(self) -> np.ndarray:
        """Starting SNP-level mixture weights as a K-vector (K = 2 except for BayesR; N/NS: the
        share inside windows, ``pi_snp``)."""
        k = len(self.gamma_values)
        if self.method == "R":
            pi = DEFAULT_PI_R_BY_K.get(k) if self.pi is None else self.pi
            pi = np.full(k, 1.0 / k) if pi is None else np.atleast_1d(np.asarray(pi, np.float64))
            if pi.shape != (k,):
                raise InputError(f"--pi needs {k} values, one per --gamma value "
                                 f"({','.join(f'{g:g}' for g in self.gamma_values)}), got "
                                 f"{len(pi)}")
        else:
            name = "--pi-snp" if self.nested else "--pi"
            start = self.pi_snp if self.nested else self.pi
            p = np.ravel(np.asarray(DEFAULT_PI if start is None else start, np.float64))
            if p.size != 1:
                raise InputError(f"{name} of Bayes{self.method} is the share of SNPs with an "
                                 f"effect: Bayes{self.method} takes one value, got "
                                 f"{', '.join(f'{v:g}' for v in p)} (one weight per "
                                 "component is BayesR's --pi)")
            if not 0 < p[0] <= 1:  # NaN fails too
                raise InputError(f"{name} is the share of SNPs with an effect, in (0, 1]; got "
                                 f"{p[0]:g}")
            pi = np.array([1.0 - p[0], p[0]])
        if (pi < 0).any() or not np.isclose(pi.sum(), 1.0) or pi[1:].sum() <= 0:
            raise InputError(f"--pi values must be >= 0, sum to 1 and leave weight on non-zero "
                             f"effects; got {', '.join(map(str, pi))}")
        return pi


def declare_variance(name: str, nu: float, start: float, hyper):
    """``name`` ~ ScaledInvChi2(nu, (nu - 2)/nu x start) in the current model (GCTB's scale
    choice), unless ``hyper(name, default)`` substitutes a user prior."""
    return hyper(name, lambda: ScaledInvChi2(name, nu, (nu - 2.0) / nu * start))


def check_hyperprior_keys(hyperpriors: dict, allowed) -> dict:
    """``hyperpriors`` as a dict, refusing names this model cannot replace."""
    hyperpriors = dict(hyperpriors or {})
    unknown = sorted(set(hyperpriors) - set(allowed))
    if unknown:
        raise InputError(f"hyperpriors can replace {', '.join(allowed)}; not {unknown}")
    return hyperpriors


def default_weights(prior: AlphabetPrior, start_pi, hyper):
    """The mixture weights of ``prior`` in the current model: (1 - pi, pi) with pi ~ Beta(1, 1)
    (two components), pi ~ Dirichlet(1, ..., 1) (BayesR), or the fixed ``start_pi`` with
    ``fix_pi``."""
    if prior.snp_weights_fixed:
        return pt.as_tensor_variable(as_float64(start_pi))
    if prior.method == "R":
        return hyper("pi", lambda: pm.Dirichlet("pi", a=np.ones(len(start_pi)), dims="component",
                                                default_transform=None))
    return spike_slab_weights(hyper("pi", lambda: pm.Beta("pi", 1.0, 1.0, default_transform=None)))


class _Derived(dict):
    """:meth:`AlphabetModel.derived`'s result: a dict whose ``slab_var`` (M,) is made from
    ``slab_shared`` the first time it is read, when the slab variance is one value."""

    def __init__(self, n_snps: int):
        super().__init__()
        self.n_snps = n_snps

    def __missing__(self, key):
        if key != "slab_var" or self.get("slab_shared") is None:
            raise KeyError(key)
        self[key] = value = np.full(self.n_snps, self["slab_shared"])
        return value


class _DerivedGraph:
    """The graph's ``outputs`` as numpy values at a point: those that are value variables
    themselves are read from the point (no copy), the others come from one function of the
    value variables ``inputs``: PyTensor's (:func:`~bayesmix.distributions.graph.
    small_graph_mode`), run as plain numpy calls where its ops allow
    (:class:`~bayesmix.distributions.graph.NumpyProgram`, checked against it at ``example``,
    a point). Per iteration this is most of the Python time of a BayesC sweep's
    hyperparameters: PyTensor's linker costs ~15 us per node there."""

    def __init__(self, model, outputs, inputs, example):
        self.read = {k: out.name for k, out in enumerate(outputs)
                     if any(out is v for v in model.value_vars)}
        self.computed = [k for k in range(len(outputs)) if k not in self.read]
        self.input_names = [v.name for v in inputs]
        self.n_outputs = len(outputs)
        self.function = None
        if self.computed:
            self.function = model.compile_fn([outputs[k] for k in self.computed], inputs=inputs,
                                             on_unused_input="ignore", point_fn=False,
                                             mode=small_graph_mode())
            self.function.trust_input = True  # points hold arrays of the value variables' dtypes
            self.function = NumpyProgram.of(
                self.function, *[example[name] for name in self.input_names]) or self.function

    def __call__(self, point) -> list:
        values = [None] * self.n_outputs
        for k, name in self.read.items():
            values[k] = point[name]
        if self.function is not None:
            computed = self.function(*[point[name] for name in self.input_names])
            for k, value in zip(self.computed, computed):
                values[k] = value
        return values


class AlphabetModel:
    """A PyMC graph of one alphabet model plus what the Gibbs steps need to run it fast.

    Parameters
    ----------
    data : AlphabetData.
    prior : AlphabetPrior (or a method letter).
    hyperpriors : optional dict of replaced priors (:data:`HYPERPRIOR_KEYS`): for ``pi``,
        ``sig2_beta``, ``sig2_e``, ``S``, ``snp_var`` (B), ``pi_window`` (N/NS) a callable(name)
        creating the replacement random variable inside the model; for ``weights`` (mixture
        weights, (K,) or (M, K) with rows summing to 1) and ``slab_var`` (slab variance on
        the scale of X, scalar or (M,)) a callable(default) returning a PyMC expression,
        where ``default()`` declares and returns the model's own.

    Attributes
    ----------
    model : pm.Model with free variables alpha, sig2_e, pi (unless fixed), sig2_beta (not B),
        S (S only), snp_var (B only), comp, beta; observed y.
    gamma : (K,) component variance multipliers.
    start : dict of starting values (constrained scale), GCTB's choices.
    """

    effects_name = "beta"
    component_name = "comp"
    #: free variables that are not hyperparameters of the prior (left out of ``derived``'s
    #: ``hyper``, so its cache does not follow them)
    not_hyperparameters = ("alpha", "beta", "comp", "snp_var", "window_on", SLAB_SCALE)

    def __init__(self, data: AlphabetData, prior: AlphabetPrior | str = "C", *, hyperpriors=None):
        self.data = data
        self.prior = prior if isinstance(prior, AlphabetPrior) else AlphabetPrior(prior)
        self.hyperpriors = check_hyperprior_keys(hyperpriors, HYPERPRIOR_KEYS)
        if self.prior.method == "S" and data.genotypes.standardized:
            raise InputError("BayesS works on per-allele effects: build AlphabetData with "
                             "standardize=False (GCTB forces unscaled genotypes for BayesS; "
                             "not for BayesNS, whose S is then on the standardised scale)")
        self.gamma = self.prior.gamma_values
        self.window_ptr, self.snp_window = self._windows() if self.prior.nested else (None, None)
        self.start = self._starting_values()
        self.model = self._built()
        self._derived = None
        self._derived_cache = None
        self._unit_factors = None
        self._softmax_memo = {}
        self._annotations_t = None
        self._initial = None

    @property
    def method(self) -> str:
        return self.prior.method

    @property
    def n_snps(self) -> int:
        return self.data.genotypes.n_snps

    @property
    def n_components(self) -> int:
        return len(self.gamma)

    @property
    def per_allele_factor(self) -> np.ndarray:
        """Multiply an effect on the scale of X by this to get the per-allele effect of A1."""
        return self.data.genotypes.scale if self.data.genotypes.standardized else np.where(
            self.data.genotypes.scale > 0, 1.0, 0.0)

    @property
    def n_windows(self) -> int:
        return 0 if self.window_ptr is None else len(self.window_ptr) - 1

    def _windows(self):
        """Window boundaries (W + 1,) and the window of each SNP (M,), GCTB's rule: a new window
        starts at a new chromosome or more than ``wind`` Mb after the window's first SNP."""
        snps = self.data.snps
        if snps is None or not {"chr", "bp"} <= set(snps.columns):
            raise InputError("BayesN/NS need SNP positions: give AlphabetData a table with chr, bp")
        chrom = snps["chr"].astype(str).to_numpy()
        bp = snps["bp"].to_numpy(dtype=np.int64)
        new_chrom = np.r_[True, chrom[1:] != chrom[:-1]]
        if len(set(chrom[new_chrom])) != int(new_chrom.sum()):
            raise InputError("SNPs of one chromosome must be contiguous for BayesN/NS windows")
        if np.any(~new_chrom[1:] & (bp[1:] < bp[:-1])):
            raise InputError("SNPs must be sorted by position within each chromosome for "
                             "BayesN/NS windows")
        width = self.prior.wind * 1e6
        snp_window = np.empty(len(bp), dtype=np.int64)
        w, first = -1, 0
        for j in range(len(bp)):
            if new_chrom[j] or bp[j] - first > width:
                w, first = w + 1, bp[j]
            snp_window[j] = w
        window_ptr = np.searchsorted(snp_window, np.arange(w + 2)).astype(np.int64)
        return window_ptr, snp_window

    def _starting_values(self) -> dict:
        d, p = self.data, self.prior
        if len(d.y) < 2:
            raise InputError(f"{len(d.y)} sample(s): an alphabet model needs at least 2 (a "
                             "variance needs two)")
        coef, *_ = np.linalg.lstsq(d.design, d.y, rcond=None)
        var_y = float(np.var(d.y - d.design @ coef, ddof=1))
        if not var_y > 0:
            raise InputError("the phenotype has no variance after removing the covariates")
        var_g, var_e = p.hsq * var_y, (1.0 - p.hsq) * var_y
        pi = p.pi_values
        window_share = p.pi_window_start if p.nested else 1.0
        sig2_beta = var_g / self._slab_denominator(pi, p.S, window_share)
        return {"alpha": coef, "sig2_e": var_e, "pi": pi, "sig2_beta": sig2_beta, "S": p.S,
                "var_y": var_y}

    def _slab_denominator(self, pi, S, window_share) -> float:
        """The prior's expected genetic variance per unit of sig2_beta at mixture weights
        ``pi`` (K,), shape ``S`` and share of windows with an effect ``window_share`` (1
        without windows): window_share sum_k pi_k gamma_k sum_j Var(x_j) w_j, w_j = H_j^S
        for S (per-allele scale), else 1."""
        genotypes = self.data.genotypes
        column_var = genotypes.xtx / genotypes.n_samples
        weight = genotypes.heterozygosity ** S if self.prior.base == "S" else 1.0
        slab_mass = float((np.asarray(pi) * self.gamma).sum())
        return window_share * slab_mass * float((column_var * weight).sum())

    @property
    def adapts_slab_scale(self) -> bool:
        """Whether sig2_beta's prior scale is a burn-in plug-in (:data:`SLAB_SCALE`, set by
        :class:`~bayesmix.inference.gibbs.SlabScalePlugIn`), as GCTB adapts it: on
        individual data for BayesS/NS, whose S moves the prior's expected genetic variance
        by orders of magnitude. Only with the default priors of sig2_beta and S."""
        return (self.prior.base == "S" and "sig2_beta" not in self.hyperpriors
                and "S" not in self.hyperpriors)

    def slab_scale_at(self, point, genetic_variance: float) -> float:
        """The prior scale of sig2_beta, (nu - 2)/nu times the value at which the prior's
        expected genetic variance is ``genetic_variance`` at the point's mixture weights (their
        mean over SNPs for per-SNP weights), S and window share: the starting scale's rule
        (:meth:`_starting_values`) at the chain's state."""
        d = self.derived(point)
        S = float(d["hyper"]["S"]) if "S" in d["hyper"] else self.prior.S
        window_share = d["pi_window"] if self.prior.nested else 1.0
        nu = self.prior.nu_beta
        return ((nu - 2.0) / nu * genetic_variance
                / self._slab_denominator(d["mean_pi"], S, window_share))

    def _declare_sig2_beta(self):
        """sig2_beta ~ ScaledInvChi2(nu_beta, scale) in the current model, the scale (nu -
        2)/nu x its start (GCTB's choice): a constant, or the starting value of the plug-in
        :data:`SLAB_SCALE` (a ``pm.Flat``, :attr:`adapts_slab_scale`); unless a user prior
        replaces it."""
        nu = self.prior.nu_beta
        scale = (nu - 2.0) / nu * self.start["sig2_beta"]
        if self.adapts_slab_scale:
            return ScaledInvChi2("sig2_beta", nu, pm.Flat(SLAB_SCALE, initval=scale))
        return self._hyper("sig2_beta", lambda: ScaledInvChi2("sig2_beta", nu, scale))

    def _hyper(self, name, default):
        factory = self.hyperpriors.get(name)
        if factory is None:
            return default()
        self._hyperpriors_used.add(name)
        return factory(name)

    def _built(self) -> pm.Model:
        """:meth:`_build`, refusing a hyperprior the model never asked for: one for a variable
        it does not have (S of BayesC, pi with ``fix_pi``, pi under a ``weights`` composition
        that does not use the default weights) would otherwise be dropped without a word."""
        self._hyperpriors_used = set()
        model = self._build()
        unused = sorted(set(self.hyperpriors) - self._hyperpriors_used)
        if unused:
            raise InputError(f"hyperpriors {unused} name no variable of this "
                             f"{type(self).__name__} ({self.method}"
                             f"{', pi fixed' if self.prior.fix_pi else ''}; a composed prior "
                             "may leave out the default's variables): leave them out")
        return model

    def _effect_piece(self, name, default, shapes):
        """The effect prior's ``weights`` or ``slab_var``: the user's callable(default) if
        given (its result checked against ``shapes``, the allowed shapes), else ``default()``."""
        factory = self.hyperpriors.get(name)
        if factory is None:
            return default()
        self._hyperpriors_used.add(name)
        value = pt.as_tensor_variable(factory(default))
        shape = tuple(value.shape.eval(mode=small_graph_mode()))
        if shape not in shapes:
            raise InputError(f"hyperpriors[{name!r}] has shape {shape}; it must be one of "
                             f"{', '.join(map(str, shapes))}")
        return value

    def _declare_effect_prior(self, default_weights, default_slab_var):
        """comp ~ Categorical(weights) and beta | comp ~ N(0, gamma[comp] slab_var) in the
        current model, the weights and slab variance being the model's defaults or the user's
        (``hyperpriors["weights"]``, ``hyperpriors["slab_var"]``).
        Returns (weights, slab_var, beta)."""
        m, k = self.n_snps, self.n_components
        weights = self._effect_piece("weights", default_weights, [(k,), (m, k)])
        comp = pm.Categorical("comp", p=weights, dims="snp")
        slab_var = self._effect_piece("slab_var", default_slab_var, [(), (1,), (m,)])
        beta = NormalMixtureEffects("beta", comp, self.gamma, slab_var, dims="snp")
        return weights, slab_var, beta

    def _build(self) -> pm.Model:
        d, p, s = self.data, self.prior, self.start
        snp_ids = (d.snps["snp"].astype(str).to_list() if d.snps is not None
                   else [f"snp{j}" for j in range(self.n_snps)])
        coords = {"snp": snp_ids, "component": np.arange(self.n_components),
                  "covariate": list(d.design_columns)}
        if p.nested:
            coords["window"] = np.arange(self.n_windows)
        with pm.Model(coords=coords) as model:
            alpha = pm.Flat("alpha", dims="covariate")
            sig2_e = declare_variance("sig2_e", p.nu_e, s["sig2_e"], self._hyper)
            weights, slab_var, beta = self._declare_effect_prior(
                lambda: default_weights(p, s["pi"], self._hyper), self._default_slab_var)
            if p.nested:
                pi_window = (pt.as_tensor_variable(p.pi_window_start) if p.fix_pi
                             else self._hyper("pi_window", lambda: pm.Beta(
                                 "pi_window", 1.0, 1.0, default_transform=None)))
                self._pi_window = pi_window
                window_on = pm.Bernoulli("window_on", p=pi_window, dims="window")
                beta = beta * window_on[self.snp_window]
            mean = pt.dot(as_float64(d.design), alpha) + genetic_values(d.genotypes, beta)
            pm.Normal("y", mu=mean, sigma=pt.sqrt(sig2_e), observed=d.y)
        self._weights = weights
        self._slab_var = slab_var
        self._sig2_e = sig2_e
        return model

    def _default_slab_var(self):
        """The method's slab variance in the current model (scale of X): BayesB's per-SNP
        ``snp_var`` ~ ScaledInvChi2(nu_snp, .), else sig2_beta (times H_j^S for S)."""
        p, s = self.prior, self.start
        if p.method == "B":
            scale = (p.nu_snp - 2.0) / p.nu_snp * s["sig2_beta"] if p.nu_snp > 2 else s["sig2_beta"]
            return self._hyper("snp_var", lambda: ScaledInvChi2("snp_var", p.nu_snp, scale,
                                                               dims="snp"))
        sig2_beta = self._declare_sig2_beta()
        if p.base != "S":
            return sig2_beta
        S = self._hyper("S", lambda: pm.Normal("S", 0.0, 1.0))
        het = self.data.genotypes.heterozygosity  # monomorphic SNPs carry no information:
        het = np.where(het > 0, het, 1.0)  # keep their prior variance finite
        return maf_scaled_variance(sig2_beta, het, S)

    def initial_point(self) -> dict:
        """Starting values in value-variable space: GCTB's choices, all effects at zero."""
        if self._initial is not None:
            return {k: v.copy() for k, v in self._initial.items()}
        point = model_initial_point(self.model)
        s = self.start
        constrained = {"alpha": s["alpha"], "sig2_e": s.get("sig2_e_init", s["sig2_e"]),
                       "pi": s["pi"] if self.method == "R" else s["pi"][1],
                       "sig2_beta": s["sig2_beta"], "S": s["S"],
                       "snp_var": np.full(self.n_snps, s["sig2_beta"])}
        if self.prior.nested and not self.prior.fix_pi:
            constrained["pi_window"] = self.prior.pi_window_start
        for rv in self.model.free_RVs:
            name = rv.name
            value_var = self.model.rvs_to_values[rv]
            if name in constrained:
                transform = self.model.rvs_to_transforms.get(rv)
                value = np.asarray(constrained[name], dtype=np.float64)
                if transform is not None:  # e.g. Dirichlet's simplex: K values -> K - 1
                    value = transform.forward(value, *rv.owner.inputs).eval()
                point[value_var.name] = np.broadcast_to(  # e.g. one value per LD block
                    np.asarray(value, np.float64).reshape(-1) if np.size(value) > 1 else
                    np.asarray(value, np.float64).reshape(()), point[value_var.name].shape).copy()
        point["beta"] = np.zeros(self.n_snps)
        point["comp"] = np.zeros(self.n_snps, dtype=np.int64)
        if self.prior.nested:
            point["window_on"] = np.ones(self.n_windows, dtype=np.int64)
        self._initial = point
        return {k: v.copy() for k, v in point.items()}

    def derived(self, point) -> dict:
        """Quantities the steps and the monitor need at ``point``, on the constrained scale.

        Returns sig2_e (a float, or one per LD block), log_pi (K,), or (M, K) for per-SNP
        weights, mean_pi (K,): pi_k or its mean over SNPs, slab_var (M,), slab_shared: the
        slab variance when it is one value for every SNP (a float; else None; e.g. sig2_beta
        of BayesC/R), and ``hyper``: a dict of the other free variables (pi, sig2_beta, S ...)
        on the constrained scale whatever their transform (arrays shared with caches and with
        the point: read, do not modify). A shared slab variance is expanded to slab_var only
        when that key is read, so a sweep that takes slab_shared allocates nothing per SNP.
        The last result is reused while the value variables it depends on (read from the
        graph: never the effects, nor e.g. the LD sampling plug-ins) are unchanged, so the
        steps of one iteration share it.
        """
        function, inputs, _ = self._derived_function()
        key = tuple(np.asarray(point[name]).tobytes() for name in inputs)
        if self._derived_cache is not None and self._derived_cache[0] == key:
            return self._derived_cache[1]
        out = self._compute_derived(function, point)
        self._derived_cache = (key, out)
        return out

    def derived_value(self, point, name: str):
        """``derived(point)[name]`` for ``name`` in ``sig2_e``, ``log_pi``, ``mean_pi``,
        ``slab_var``, ``slab_shared``: the last result's value while the variables ``name``
        itself depends on are unchanged, though others moved (e.g. the effect-variance step
        reads slab_var after the weights step changed pi, which slab_var does not involve)."""
        cached = self._derived_cache
        if cached is not None:
            key, out = cached
            _, inputs, needs = self._derived_function()
            if all(key[i] == np.asarray(point[inputs[i]]).tobytes() for i in needs[name]):
                return out[name]
        return self.derived(point)[name]

    def slab_terms(self, point) -> tuple:
        """(component variances (K,), per-SNP factors (M,)) whose products comp_var_k v_j are
        the slab variances gamma_k slab_var_j at ``point``: (gamma, slab_var), or (gamma times
        the shared slab variance, ones) when every SNP has the same one (the same products,
        without an (M,) array made per iteration). Read only."""
        shared = self.derived_value(point, "slab_shared")
        if shared is None:
            return self.gamma, self.derived_value(point, "slab_var")
        if self._unit_factors is None:
            self._unit_factors = np.ones(self.n_snps)
            self._unit_factors.flags.writeable = False
        return self.gamma * shared, self._unit_factors

    def _derived_function(self) -> tuple:
        """(a :class:`_DerivedGraph` of the derived quantities, names of the value variables
        it reads, for each of ``derived_value``'s names the positions in that list of the
        ones it reads)."""
        if self._derived is None:
            annotated = annotation_structure(self._weights)
            self._hyper_names = [rv.name for rv in self.model.free_RVs
                                 if rv.name not in self.not_hyperparameters]
            # annotation weights: theta here, its softmax in numba (annotation_softmax)
            weights = pt.log(self._weights) if annotated is None else annotated[1]
            outs = [self._sig2_e, weights, pt.as_tensor_variable(self._slab_var)]
            if self.prior.nested:
                outs.append(pt.as_tensor_variable(self._pi_window))
            outs += [self.model[name] for name in self._hyper_names]
            outs = self.model.replace_rvs_by_values(outs)
            reads = [set(ancestors([out])) for out in outs]
            used = [v for v in self.model.value_vars if any(v in r for r in reads)]
            needs = {name: [i for i, v in enumerate(used) if v in reads[k]]
                     for name, k in (("sig2_e", 0), ("log_pi", 1), ("mean_pi", 1),
                                     ("slab_var", 2), ("slab_shared", 2))}
            self._derived = (_DerivedGraph(self.model, outs, used, self.initial_point()),
                             [v.name for v in used], needs)
        return self._derived

    def _compute_derived(self, function, point) -> dict:
        annotated = annotation_structure(self._weights)
        sig2_e, log_pi, slab, *hyper = function(point)
        if annotated is None:
            log_pi = np.asarray(log_pi, np.float64)
            mean_pi = np.exp(log_pi) if log_pi.ndim == 1 else np.exp(log_pi).mean(axis=0)
        else:
            theta = np.asarray(log_pi, np.float64)
            _, log_pi, _, mean_pi, _, _ = self.annotation_softmax(
                theta.reshape(theta.shape[0], -1))
        sig2_e = np.asarray(sig2_e, np.float64)  # one per LD block in the eigen SBayes model
        out = _Derived(self.n_snps)
        out.update({"sig2_e": float(sig2_e) if sig2_e.ndim == 0 else sig2_e, "log_pi": log_pi,
                    "mean_pi": mean_pi})
        slab = np.asarray(slab, np.float64)
        if slab.size == 1:
            out["slab_shared"] = float(slab.reshape(()))
        else:
            out["slab_shared"] = None
            # read-only whatever PyTensor returned: the sweeps compile once for one type
            out["slab_var"] = np.ascontiguousarray(np.broadcast_to(slab, (self.n_snps,)))
            out["slab_var"].flags.writeable = False
        if self.prior.nested:
            out["pi_window"] = float(hyper.pop(0))
        out["hyper"] = {name: np.asarray(v) for name, v in zip(self._hyper_names, hyper)}
        return out

    def annotation_softmax(self, theta) -> tuple:
        """:func:`~bayesmix.kernels.gibbs.annotation_softmax` (f, log weights (M, K), weights
        (M, K), their means over SNPs (K,), f's gradient and Hessian) of the model's annotation
        weights (:func:`~bayesmix.distributions.effects.annotation_weights`) at theta
        (A, K-1). The last two results are kept (the chain's theta and the last proposal of
        its step): a memo of a pure function of theta, shared by the weights step and the
        sweeps."""
        theta = np.ascontiguousarray(theta, np.float64)
        key = theta.tobytes()
        memo = self._softmax_memo
        if key not in memo:
            if len(memo) >= 2:
                del memo[next(iter(memo))]
            if self._annotations_t is None:
                self._annotations_t = np.ascontiguousarray(
                    annotation_structure(self._weights)[0].T)
            memo[key] = annotation_softmax(self._annotations_t, theta)
        return memo[key]

    @property
    def monitor_names(self) -> list[str]:
        """Names of the per-iteration quantities of :meth:`monitor` (GCTB's labels)."""
        k = self.n_components
        names = ([f"Pi{i + 1}" for i in range(k)] + [f"NumSnp{i + 1}" for i in range(k)]
                 if self.method == "R" else ["Pi"])
        if self.prior.nested:
            names += ["NNZwind", "PiSnp"]
        names += ["NnzSnp", "SigmaSq"] + (["S"] if self.prior.base == "S" else [])
        return names + ["ResVar", "GenVar", "hsq"]

    @property
    def progress_columns(self) -> list[str]:
        """Columns of GCTB's progress lines (between Iter and TimeLeft)."""
        if self.method == "R":
            return [f"NumSnp{i + 1}" for i in range(self.n_components)] + [
                "SigmaSq", "ResVar", "GenVar", "hsq"]
        return [n for n in self.monitor_names]

    def monitor(self, point, stats) -> dict:
        """Per-iteration summary: Pi (or Pi_k, NumSnp_k), NnzSnp, SigmaSq, S, ResVar, GenVar, hsq.

        BayesN/NS: Pi is the share of windows with an effect (GCTB's Pi), NNZwind the number
        of active windows, PiSnp the share of SNPs with an effect inside windows.

        ``stats`` are the merged step statistics (``n_nonzero``, ``genetic_variance`` of
        :class:`~bayesmix.inference.gibbs.EffectsGibbs`). SigmaSq is sig2_beta (scale of X;
        per-allele for BayesS); for BayesB, or a slab variance without sig2_beta, it is the
        mean slab variance of the slab SNPs. With per-SNP weights Pi is their mean over SNPs.
        GenVar is the sample variance of X beta; hsq = GenVar / (GenVar + ResVar).
        """
        d = self.derived(point)
        pi = d["mean_pi"]
        out = {}
        if self.prior.nested:
            out["Pi"] = d["pi_window"]
            out["NNZwind"] = int(np.sum(point["window_on"]))
            out["PiSnp"] = float(pi[1])
        elif self.method == "R":
            counts = component_counts(np.asarray(point["comp"]), self.n_components)
            out.update({f"Pi{i + 1}": float(pi[i]) for i in range(self.n_components)})
            out.update({f"NumSnp{i + 1}": int(counts[i]) for i in range(self.n_components)})
        else:
            out["Pi"] = float(pi[1])
        out["NnzSnp"] = int(stats["n_nonzero"])
        if "sig2_beta" in d["hyper"]:
            out["SigmaSq"] = float(d["hyper"]["sig2_beta"])
        else:
            slab = self.gamma[np.asarray(point["comp"])] > 0
            out["SigmaSq"] = float(np.mean(d["slab_var"][slab])) if slab.any() else float("nan")
        if self.prior.base == "S":
            out["S"] = float(d["hyper"].get("S", np.nan))  # nan: a slab variance without S
        gen_var = float(stats["genetic_variance"])
        out["ResVar"] = d["sig2_e"]
        out["GenVar"] = gen_var
        out["hsq"] = gen_var / (gen_var + d["sig2_e"])
        return out

    def snp_effects(self, point) -> np.ndarray:
        """Effects in the likelihood (scale of X): beta, times the window indicator for N/NS."""
        beta = np.asarray(point["beta"], dtype=np.float64)
        return beta * point["window_on"][self.snp_window] if self.prior.nested else beta

    def snp_components(self, point) -> np.ndarray:
        """Components in the likelihood: 0 (no effect) for SNPs of inactive windows."""
        comp = np.asarray(point["comp"])
        return comp * point["window_on"][self.snp_window] if self.prior.nested else comp

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_derived"] = None  # compiled functions are rebuilt in the worker
        state["_softmax_memo"] = {}  # recomputed there too (a memo, not state)
        return state
