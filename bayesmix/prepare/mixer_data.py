"""The inputs of the MiXeR likelihoods: z-scores, per-SNP N, pruning weights and tag x reference LD.

- :class:`MixerData`: one trait's z-scores, per-SNP N, pruning weights and the tag x reference
  r^2 store as plain arrays (from a :class:`bayesmix.ld.store.LDMatrix` or synthetic block LD);
  the LD summaries the likelihoods read (:mod:`bayesmix.kernels.mixer`) are cached on it.
- :class:`BivariateData`: two traits on the same tags and LD, with the bivariate fast and full
  likelihoods of :mod:`bayesmix.kernels.mixer_bivariate` on its arrays.

:func:`bayesmix.prepare.mixer.load_mixer_data` and
:func:`~bayesmix.prepare.mixer.load_bivariate_data` build them from files.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.kernels import mixer as kernels
from bayesmix.kernels import mixer_bivariate as kern
from bayesmix.ld.weak_ld import model_weak_ld, weak_fourth_moments


@dataclass
class MixerData:
    """Inputs of the univariate likelihood, on plain arrays.

    Attributes
    ----------
    z : (J,) float64 z-scores of the tag SNPs, aligned to the reference A1.
    n : (J,) float64 GWAS sample size per tag (N_eff for case/control).
    weights : (J,) float64 random-pruning weights w_j (1 = keep fully).
    indptr, indices, r2 : tag x reference CSR of r^2 (int64, int32, float32).
    het : (M,) float64 H_i = 2 p_i (1 - p_i) of the reference SNPs.
    tags : optional per-tag table (snp, chr, bp, freq, ...) for reports and plots.
    weak : (J,) float64 weak-LD sums of the tags (the r^2 below the LD's threshold,
        :attr:`bayesmix.ld.store.LDMatrix.weak_ld`, calibrated for the panel's noise by
        :mod:`bayesmix.ld.weak_ld`); None -> zeros (MiXeR's model).
    weak4 : (J,) float64 the tags' sums sum_i H_i^2 r~_ij^4 over the same pairs
        (:attr:`bayesmix.ld.store.LDMatrix.weak_ld4`): with them the convolve likelihood
        treats the weak LD's signal as random (:func:`bayesmix.kernels.mixer.
        weak_pseudo_snps`); None -> zeros (its expected variance as Gaussian noise).
    """

    z: np.ndarray
    n: np.ndarray
    weights: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    r2: np.ndarray
    het: np.ndarray
    tags: pd.DataFrame | None = field(default=None, repr=False)
    weak: np.ndarray | None = field(default=None, repr=False)
    weak4: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        self.z = np.ascontiguousarray(self.z, dtype=np.float64)
        self.n = np.array(np.broadcast_to(self.n, self.z.shape), dtype=np.float64)
        self.weights = np.array(np.broadcast_to(self.weights, self.z.shape), dtype=np.float64)
        self.indptr = np.ascontiguousarray(self.indptr, dtype=np.int64)
        self.indices = np.ascontiguousarray(self.indices, dtype=np.int32)
        self.r2 = np.ascontiguousarray(self.r2, dtype=np.float32)
        self.het = np.ascontiguousarray(self.het, dtype=np.float64)
        self.weak = (np.zeros(self.z.shape) if self.weak is None
                     else np.ascontiguousarray(self.weak, dtype=np.float64))
        self.weak4 = (np.zeros(self.z.shape) if self.weak4 is None
                      else np.ascontiguousarray(self.weak4, dtype=np.float64))
        for name in ("weak", "weak4"):
            if getattr(self, name).shape != self.z.shape:
                raise ValueError(f"{name} has {getattr(self, name).shape[0]} entries for "
                                 f"{self.z.shape[0]} tags")
        if self.indptr.shape[0] != self.z.shape[0] + 1:
            raise ValueError(f"indptr has {self.indptr.shape[0]} entries for {self.z.shape[0]} tags")
        if not np.all(np.isfinite(self.z)):
            raise ValueError("z contains NaN or infinite values")

    # ------------------------------------------------------------------ sizes and summaries
    @property
    def n_tags(self) -> int:
        return int(self.z.shape[0])

    @property
    def n_ref(self) -> int:
        """M, the number of reference SNPs (candidate causal variants)."""
        return int(self.het.shape[0])

    @property
    def sum_het(self) -> float:
        """sum_i H_i over the reference: h2 = pi sig2_beta sum_het."""
        return float(self.het.sum())

    @cached_property
    def ld_moments(self) -> tuple[np.ndarray, np.ndarray]:
        """(l_j = sum_i H_i r_ij^2, l4_j = sum_i H_i^2 r_ij^4) per tag."""
        return kernels.ld_moments(self.indptr, self.indices, self.r2, self.het)

    @cached_property
    def ld_columns(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The r^2 store transposed (reference-major CSC), built once for the full model."""
        return kernels.transpose_csr(self.indptr, self.indices, self.r2, self.n_ref)

    def with_z(self, z) -> "MixerData":
        """The same LD and weights with other z-scores (e.g. a simulated replicate)."""
        new = replace(self, z=z)
        for name in ("ld_moments", "ld_columns"):
            if name in self.__dict__:
                new.__dict__[name] = self.__dict__[name]
        return new

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_ld(cls, ld, z, n, weights=None, tags: pd.DataFrame | None = None, *,
                ld_in_sample: bool = False) -> "MixerData":
        """Build from an :class:`bayesmix.ld.store.LDMatrix` (rows = tags in the order of z).

        H_i comes from the reference SNPs' A1 frequency ``ld.ref_snps.freq``. The weak-LD sums
        are calibrated for the panel's noise (:func:`bayesmix.ld.weak_ld.model_weak_ld`), or
        used as stored with ``ld_in_sample`` (z drawn from this LD itself, or the GWAS
        sample's own LD); their fourth moments as :func:`bayesmix.ld.weak_ld.
        weak_fourth_moments` gives them.
        """
        ld.refuse_upper_triangle("MiXeR")
        indptr, indices, r = ld.csr_arrays()
        freq = ld.ref_snps["freq"].to_numpy(dtype=np.float64)
        het = 2.0 * freq * (1.0 - freq)
        w = np.ones(len(z)) if weights is None else weights
        weak = ld.weak_ld if ld_in_sample else model_weak_ld(ld)
        return cls(np.asarray(z), np.asarray(n), w, indptr, indices,
                   np.asarray(r, dtype=np.float32) ** 2, het,
                   ld.snps if tags is None else tags, weak,
                   weak_fourth_moments(weak, ld.weak_ld4, ld.meta.get("r2min")))

    @classmethod
    def synthetic(cls, n_snps: int, *, block_size: int = 100, r2min: float = 0.05,
                  n: float = 1e5, rng: np.random.Generator) -> tuple["MixerData", object]:
        """Square synthetic block LD (AR(1) correlation r_ij = rho^|i-j| within blocks).

        For tests and benchmarks: each block of ``block_size`` SNPs gets rho ~ U(0.5, 0.95);
        pairs with r^2 < r2min are dropped; MAF ~ U(0.05, 0.5). Returns ``(data, r_signed)``
        where ``r_signed`` is the scipy CSR of signed r (to simulate z-scores), and z is 0
        until replaced by :meth:`with_z`.
        """
        import scipy.sparse as sp

        rows, cols, vals = [], [], []
        for start in range(0, n_snps, block_size):
            size = min(block_size, n_snps - start)
            rho = rng.uniform(0.5, 0.95)
            lag = np.abs(np.subtract.outer(np.arange(size), np.arange(size)))
            r = rho ** lag
            i, j = np.nonzero(r * r >= r2min)
            rows.append(start + i)
            cols.append(start + j)
            vals.append(r[i, j])
        r_signed = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                          np.concatenate(cols))),
                                 shape=(n_snps, n_snps))
        r_signed.sort_indices()
        maf = rng.uniform(0.05, 0.5, n_snps)
        het = 2 * maf * (1 - maf)
        data = cls(np.zeros(n_snps), np.full(n_snps, float(n)), np.ones(n_snps),
                   r_signed.indptr, r_signed.indices, r_signed.data.astype(np.float32) ** 2,
                   het, pd.DataFrame({"snp": [f"s{i}" for i in range(n_snps)], "freq": maf}))
        return data, r_signed


#: memory the full bivariate likelihood may take to keep its draws' LD sums (bytes)
FULL_DRAW_CACHE_BYTES = 2 * 1024 ** 3


class FullDrawCache:
    """The LD sums of the full bivariate model's causal-set draws, kept while they repeat.

    A draw's sums depend on the causal-set sizes round(pi_c M), K and the seed only, not on
    the variances and correlations: an optimiser that moves rho12 and rho0 at a fixed overlap
    share (each point of the pi12 profile) evaluates the same draws again and again. The sums
    are stored the second time in a row one setting is asked for, or the first time when the
    caller says it will repeat it (``repeats``), when they fit in
    :data:`FULL_DRAW_CACHE_BYTES` (28 bytes per tag a draw reaches; e.g. 2,800 tags per draw
    for 190 causal SNPs among 10,000, 80 MB at K = 1,000); the likelihood is the same number
    either way (tests/test_mixer_bivariate_kernels.py).
    """

    def __init__(self, limit_bytes: int = FULL_DRAW_CACHE_BYTES):
        self.limit_bytes = limit_bytes
        # (setting, its arrays or None when too large): one attribute, replaced whole, so a
        # thread sharing the data never pairs one setting with another's arrays
        self.stored = (None, None)
        self.asked = None  # the setting asked for last

    @property
    def arrays(self):
        """The stored setting's (draw_ptr, tags, sums), or None."""
        return self.stored[1]

    def arrays_for(self, key, build, repeats: bool = False):
        """(draw_ptr, tags, sums) of setting ``key`` if stored or now stored, else None;
        ``build(limit_bytes)`` makes them or returns None when they take more. ``repeats``:
        the caller will ask for ``key`` again (store it now)."""
        stored_key, arrays = self.stored
        if key == stored_key:
            return arrays
        if key != self.asked and not repeats:
            self.asked = key
            return None
        self.stored = (None, None)  # free the previous setting's arrays first
        arrays = build(self.limit_bytes)
        self.stored = (key, arrays)
        return arrays

    def __getstate__(self):
        """Pickled (e.g. sent to a Dask worker) empty: the arrays are remade where used."""
        return {"limit_bytes": self.limit_bytes}

    def __setstate__(self, state):
        self.__init__(state["limit_bytes"])


@dataclass
class BivariateData:
    """Two traits' z-scores on the same tag SNPs and LD.

    ``trait1`` and ``trait2`` are :class:`MixerData` with the same LD
    store, reference H, weak-LD sums and pruning weights (pruned among the tags both traits
    share, as MiXeR's: :func:`bayesmix.prepare.mixer.load_bivariate_data`); only z and N
    differ. LD moments and the reference-major store are those of the univariate data
    (cached).
    """

    trait1: MixerData
    trait2: MixerData
    full_draws: FullDrawCache = field(default_factory=FullDrawCache, init=False, repr=False,
                                      compare=False)

    def __post_init__(self):
        a, b = self.trait1, self.trait2
        if a.n_tags != b.n_tags or a.n_ref != b.n_ref or a.indices.shape != b.indices.shape:
            raise InputError(f"the two traits must share tags and LD: {a.n_tags} vs "
                             f"{b.n_tags} tags, {a.n_ref} vs {b.n_ref} reference SNPs")

    @classmethod
    def from_mixer_data(cls, data: MixerData, z1, z2, n1, n2) -> "BivariateData":
        """Both traits on the LD of ``data`` (its cached LD summaries are shared)."""
        trait1 = data.with_z(z1)
        trait1.n = np.array(np.broadcast_to(n1, trait1.z.shape), dtype=np.float64)
        trait2 = data.with_z(z2)
        trait2.n = np.array(np.broadcast_to(n2, trait2.z.shape), dtype=np.float64)
        return cls(trait1, trait2)

    @property
    def n_tags(self) -> int:
        return self.trait1.n_tags

    @property
    def n_ref(self) -> int:
        return self.trait1.n_ref

    @property
    def weights(self) -> np.ndarray:
        return self.trait1.weights

    def _arrays(self):
        """(z1, z2, n1, n2, weak, l2, l4): the fast kernels' per-tag data arrays."""
        l2, l4 = self.trait1.ld_moments
        return (self.trait1.z, self.trait2.z, self.trait1.n, self.trait2.n, self.trait1.weak,
                l2, l4)

    def fast_logp_grad(self, params):
        """Weighted fast log-likelihood and its gradient in the 9 natural parameters."""
        return kern.fast_logp_grad(*self._arrays(), self.weights,
                                   np.asarray(params, dtype=np.float64))

    def full_logp(self, params, n_draws: int, seed: int) -> float:
        """Weighted full (sampled) log-likelihood with K = ``n_draws`` causal-set draws."""
        return kern.weighted_total(self.weights, self._full_densities(params, n_draws, seed,
                                                                      False)[0])

    def full_logp_rho_grad(self, params, n_draws: int, seed: int):
        """(:meth:`full_logp`, its (2,) gradient in (rho12, rho0)): the draws depend on the
        causal fractions only, so at fixed fractions the sampled likelihood is smooth in the
        two correlations (:func:`bayesmix.kernels.mixer_bivariate.rho_gradient`). Asked by an
        optimiser over the correlations, which evaluates these draws again: their sums are
        stored at the first call (:class:`FullDrawCache`)."""
        params = np.asarray(params, dtype=np.float64)
        logpdf, slope = self._full_densities(params, n_draws, seed, True)
        a, b = self.trait1, self.trait2
        return (kern.weighted_total(self.weights, logpdf),
                kern.rho_gradient(a.n, b.n, a.weak, self.weights, params, slope))

    def _full_densities(self, params, n_draws: int, seed: int, with_slopes: bool):
        """:func:`bayesmix.kernels.mixer_bivariate.full_tag_densities`, from the stored draw
        sums when :attr:`full_draws` holds (or now stores) them; with the slopes, the draws
        are stored at once."""
        params = np.asarray(params, dtype=np.float64)
        a, b = self.trait1, self.trait2
        counts = kern.full_causal_counts(params, a.n_ref)
        stored = self.full_draws.arrays_for((n_draws, seed, *counts.tolist()),
                                            lambda limit: self._draw_sums(counts, n_draws,
                                                                          seed, limit),
                                            repeats=with_slopes)
        if stored is None:
            return kern.full_tag_densities(a.z, b.z, a.n, b.n, a.weak, *a.ld_columns, a.het,
                                           params, n_draws, seed, with_slopes)
        return kern.full_tag_densities_from_sums(a.z, b.z, a.n, b.n, a.weak, *stored, params,
                                                 with_slopes)

    def _draw_sums(self, counts, n_draws: int, seed: int, limit_bytes: int):
        """(draw_ptr, tags, sums) of :func:`bayesmix.kernels.mixer_bivariate.draw_tag_sums`,
        or None if they would take more than ``limit_bytes`` (28 bytes per entry)."""
        args = (counts, seed, n_draws, *self.trait1.ld_columns, self.trait1.het, self.n_tags)
        n_touched, _, _ = kern.draw_tag_sums(*args, np.empty(0, dtype=np.int64))
        draw_ptr = np.concatenate([[0], np.cumsum(n_touched)])
        if draw_ptr[-1] * 28 + draw_ptr.nbytes > limit_bytes:
            return None
        return (draw_ptr, *kern.draw_tag_sums(*args, draw_ptr)[1:])

    def component_posteriors(self, params) -> np.ndarray:
        """(T, 8) posterior probabilities of the fast model's components per tag."""
        return kern.fast_component_posteriors(*self._arrays(),
                                              np.asarray(params, dtype=np.float64))
