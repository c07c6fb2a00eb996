"""The inputs of an individual-level alphabet model: phenotype, covariates, compact genotypes.

:class:`AlphabetData` is what :class:`bayesmix.models.alphabet.AlphabetModel` fits; build it
from arrays, from an opened PLINK file set, or from files with
:func:`bayesmix.prepare.alphabet.load_alphabet_data`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayesmix.errors import InputError
from bayesmix.prepare.compact_genotypes import CompactGenotypes


@dataclass
class AlphabetData:
    """Phenotype, covariates and compact genotypes of one analysis (samples aligned).

    Attributes
    ----------
    genotypes : CompactGenotypes (n x M int8, standardised or centred on the fly).
    y : (n,) float64 phenotype (file scale).
    design : (n, q) float64 covariate design, first column the intercept.
    design_columns : names of the design columns.
    snps : DataFrame with chr, snp, bp, a1, a2 (one row per column of X), or None.
    """

    genotypes: CompactGenotypes
    y: np.ndarray
    design: np.ndarray
    design_columns: list = field(default_factory=lambda: ["intercept"])
    snps: pd.DataFrame | None = None

    def __post_init__(self):
        self.y = np.ascontiguousarray(self.y, dtype=np.float64)
        self.design = np.ascontiguousarray(self.design, dtype=np.float64)
        n = self.genotypes.n_samples
        if self.y.shape != (n,) or self.design.shape[0] != n:
            raise InputError(f"phenotype ({self.y.shape}), covariates ({self.design.shape}) and "
                             f"genotypes ({n} samples) disagree in the number of samples")
        if not np.isfinite(self.y).all() or not np.isfinite(self.design).all():
            raise InputError("phenotype or covariates contain NaN/inf; drop those samples first")

    @classmethod
    def from_arrays(cls, dosages, y, design=None, *, standardize: bool = True, snps=None):
        """Build from an (n, M) array of A1 counts (NaN = missing) and a phenotype vector."""
        y = np.asarray(y, dtype=np.float64)
        design = np.ones((len(y), 1)) if design is None else np.asarray(design, np.float64)
        names = ["intercept"] + [f"covariate{k}" for k in range(1, design.shape[1])]
        geno = CompactGenotypes.from_dosages(dosages, standardize=standardize)
        return cls(geno, y, design, names, snps)

    @classmethod
    def from_plink(cls, genotypes, y, design=None, design_columns=None, *, standardize=True):
        """Build from an opened :class:`bayesmix.io.plink.Genotypes` whose samples match ``y``."""
        y = np.asarray(y, dtype=np.float64)
        design = np.ones((len(y), 1)) if design is None else np.asarray(design, np.float64)
        names = design_columns or ["intercept"] + [f"covariate{k}" for k in range(1, design.shape[1])]
        geno = CompactGenotypes.from_plink(genotypes, standardize=standardize)
        snps = genotypes.snps[["chr", "snp", "bp", "a1", "a2"]].reset_index(drop=True)
        return cls(geno, y, design, list(names), snps)
