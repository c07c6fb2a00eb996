"""Phenotypes from genotypes and effects: y = g + e, quantitative or liability-threshold binary.

Scale: the phenotype has variance 1 in expectation. ``g = X_std b_std`` where ``X_std`` are
the genotypes standardised with the sample's own allele frequencies
(:meth:`bayesmix.io.plink.Genotypes.read`), so ``g`` has mean exactly 0 in the sample. With
``rescale=True`` (the default) the effects are multiplied so that the sample variance of g
equals h2 exactly (like GCTA ``--simu-qt``), and the residual is e ~ N(0, 1 - h2); the
returned :class:`Phenotypes` carries the rescaled effects, so the truth matches the data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy.special import ndtri

from bayesmix.errors import InputError
from bayesmix.io.files import atomic_open
from bayesmix.simulate.effects import Effects


@dataclass
class Phenotypes:
    """Simulated phenotypes of the samples of a :class:`~bayesmix.io.plink.Genotypes`.

    Attributes
    ----------
    samples : DataFrame with fid, iid (the genotype samples, in order).
    y : (n, T) float64 phenotypes: quantitative values, or 1 = case / 0 = control.
    genetic : (n, T) genetic values g = X_std b_std (phenotype SD units).
    liability : (n, T) g + e (equals ``y`` for quantitative traits).
    h2 : (T,) target heritability (standardised scale).
    prevalence : (T,) population prevalence of binary traits, or None.
    residual_corr : correlation of the residuals of the two traits (0 for one trait).
    effects : the effects actually used (rescaled when ``rescale`` was asked).
    """

    samples: pd.DataFrame
    y: np.ndarray
    genetic: np.ndarray
    liability: np.ndarray
    h2: np.ndarray
    prevalence: np.ndarray | None
    residual_corr: float
    effects: Effects

    @property
    def h2_sample(self) -> np.ndarray:
        """Realised var(g) / var(liability) per trait in the sample."""
        return self.genetic.var(axis=0) / self.liability.var(axis=0)


def genetic_values(genotypes, effects: Effects, *, block_size: int = 1024) -> np.ndarray:
    """g = X_std b_std for every sample of ``genotypes``, shape (n, T), float64.

    Only the causal SNPs are read, ``block_size`` columns at a time, so memory stays at
    n x block_size float32. ``effects`` must be drawn over ``genotypes.snps`` (same order).
    """
    if len(effects.het) != genotypes.n_snps:
        raise InputError(f"effects cover {len(effects.het)} SNPs but the genotypes have "
                         f"{genotypes.n_snps}", genotypes.prefix)
    b_std = effects.b_std.reshape(genotypes.n_snps, -1)
    causal = effects.causal
    g = np.zeros((genotypes.n_samples, b_std.shape[1]))
    for start in range(0, len(causal), block_size):
        cols = causal[start:start + block_size]
        x = genotypes.read(cols, standardize=True)
        g += x @ b_std[cols].astype(np.float64)
    return g


def simulate_phenotypes(genotypes, effects: Effects, h2, *, rng: np.random.Generator,
                        residual_corr: float = 0.0, prevalence=None, rescale: bool = True,
                        block_size: int = 1024) -> Phenotypes:
    """Phenotypes y = g + e of the samples of ``genotypes``.

    Parameters
    ----------
    genotypes : :class:`~bayesmix.io.plink.Genotypes` the effects were drawn on.
    effects : :class:`~bayesmix.simulate.effects.Effects` (one trait, or two for ``mixer2``).
    h2 : target heritability per trait, in (0, 1) (standardised scale, phenotype variance 1).
    residual_corr : correlation of the two traits' residuals e1, e2.
    prevalence : per-trait population prevalence K in (0, 1) for a binary trait (liability
        threshold model: case when g + e > Phi^-1(1 - K)), or None for quantitative. A
        scalar applies to every trait.
    rescale : scale the effects so the sample variance of g is exactly h2.
    """
    n_traits = effects.n_traits
    h2 = np.broadcast_to(np.asarray(h2, dtype=np.float64), (n_traits,)).copy()
    if ((h2 <= 0) | (h2 >= 1)).any():
        raise InputError(f"h2 must be in (0, 1), got {h2.tolist()}")
    if not -1.0 <= residual_corr <= 1.0:
        raise InputError(f"residual_corr must be in [-1, 1], got {residual_corr}")
    if prevalence is not None:
        prevalence = np.broadcast_to(np.asarray(prevalence, dtype=np.float64), (n_traits,)).copy()
        if ((prevalence <= 0) | (prevalence >= 1)).any():
            raise InputError(f"prevalence must be in (0, 1), got {prevalence.tolist()}")

    g = genetic_values(genotypes, effects, block_size=block_size)
    if rescale:
        var_g = g.var(axis=0)
        if (var_g == 0).any():
            raise InputError("the causal SNPs have no genetic variance in this sample (no "
                             "causal SNP drawn, or all monomorphic): raise pi / n_causal")
        factor = np.sqrt(h2 / var_g)
        g = g * factor
        effects = effects.scaled(factor if n_traits > 1 else factor[0])

    sd = np.sqrt(1.0 - h2)
    cov = np.outer(sd, sd) * (np.eye(n_traits) + residual_corr * (1 - np.eye(n_traits)))
    e = rng.multivariate_normal(np.zeros(n_traits), cov, genotypes.n_samples, method="eigh")
    liability = g + e
    if prevalence is None:
        y = liability.copy()
    else:
        threshold = -ndtri(prevalence)   # scipy.stats.norm.isf, without importing it
        y = (liability > threshold).astype(np.float64)
    return Phenotypes(genotypes.samples.copy(), y, g, liability, h2, prevalence,
                      float(residual_corr) if n_traits > 1 else 0.0, effects)


def ascertain(phenotypes: Phenotypes, n_cases: int, n_controls: int, *,
              rng: np.random.Generator) -> Phenotypes:
    """Case-control sampling (as GCTA ``--simu-cc``): keep ``n_cases`` random cases and
    ``n_controls`` random controls of a binary trait; everyone else gets a missing (NaN)
    phenotype, so :func:`bayesmix.simulate.gwas.marginal_gwas` analyses only the sample.
    The liabilities and genetic values of all samples are kept (the truth)."""
    if phenotypes.prevalence is None or phenotypes.y.shape[1] != 1:
        raise InputError("case-control sampling needs one binary trait (give a prevalence)")
    status = phenotypes.y[:, 0]
    chosen = []
    for code, wanted, name in ((1.0, n_cases, "cases"), (0.0, n_controls, "controls")):
        pool = np.flatnonzero(status == code)
        if not 1 <= wanted <= len(pool):
            raise InputError(f"asked for {wanted} {name} but the {len(status)} samples have "
                             f"{len(pool)} (prevalence {phenotypes.prevalence[0]:g})")
        chosen.append(rng.choice(pool, int(wanted), replace=False))
    y = np.full_like(phenotypes.y, np.nan)
    keep = np.concatenate(chosen)
    y[keep] = phenotypes.y[keep]
    return replace(phenotypes, y=y)


def write_phen(path, samples: pd.DataFrame, y) -> None:
    """Write a GCTA ``.phen`` file atomically: ``FID IID y1 [y2 ...]``, no header, NaN as NA.

    Binary traits are written as 1 (case) / 0 (control), as GCTA ``--simu-cc`` does.
    """
    y = np.asarray(y, dtype=np.float64).reshape(len(samples), -1)
    columns = [samples["fid"].astype(str).to_numpy(), samples["iid"].astype(str).to_numpy()]
    for t in range(y.shape[1]):
        values = y[:, t]
        text = np.char.mod("%.10g", np.where(np.isnan(values), 0.0, values))
        columns.append(np.where(np.isnan(values), "NA", text))
    with atomic_open(path, "wt") as fh:
        for row in zip(*columns):
            fh.write(" ".join(row) + "\n")
