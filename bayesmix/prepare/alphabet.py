"""Individual-level alphabet inputs from files: PLINK genotypes + phenotype (+ covariates).

:func:`load_alphabet_data` applies the sample filters (``--keep``/``--remove``), intersects
the genotyped samples with the phenotype and covariate files (counting every sample dropped
and why), applies the SNP filters (``--extract``/``--exclude``/``--chr``, MHC and region
exclusion, ``--maf``, monomorphic SNPs) over the analysed samples, and builds the model's
:class:`~bayesmix.prepare.alphabet_data.AlphabetData` (genotypes compacted, standardised or
centred; the fixed-effect design with an intercept first), with a warning when too few
individuals are left for the estimates to mean anything (:func:`sample_size_warning`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bayesmix.errors import InputError


@dataclass
class SampleSnpFilters:
    """Sample and SNP filters of an individual-level analysis (PLINK/GCTB semantics).

    keep, remove : FID IID files of samples to keep / remove.
    extract, exclude : SNP lists to keep / remove.
    chrom : keep only this chromosome.
    exclude_mhc : drop the MHC of genome build ``"hg19"`` or ``"hg38"``.
    exclude_regions : drop SNPs in the regions of this ``chr start end`` file.
    maf : drop SNPs whose minor allele frequency (in the analysed samples) is below this.
    """

    keep: str | None = None
    remove: str | None = None
    extract: str | None = None
    exclude: str | None = None
    chrom: str | None = None
    exclude_mhc: str | None = None
    exclude_regions: str | None = None
    maf: float = 0.0

    def __post_init__(self):
        if not 0 <= self.maf <= 0.5:  # NaN fails too
            raise InputError(f"--maf is a minor allele frequency, in [0, 0.5]; got {self.maf}")

    def snp_options(self) -> dict:
        return dict(extract=self.extract, exclude=self.exclude, chrom=self.chrom,
                    exclude_mhc=self.exclude_mhc, exclude_regions=self.exclude_regions,
                    maf=self.maf)


#: fewest degrees of freedom (individuals minus fixed effects) without a warning: the
#: residual and genetic variances share them, against the 4 of each of their
#: scaled-inverse-chi-square priors; with fewer than 10 the posterior of hsq, Pi and the
#: effects is mostly the prior's (GCTB gives no warning)
MIN_DEGREES_OF_FREEDOM = 10


def sample_size_warning(n_samples: int, n_fixed: int) -> str | None:
    """The warning for an analysis of ``n_samples`` individuals with ``n_fixed`` fixed
    effects (intercept included) that leaves fewer than :data:`MIN_DEGREES_OF_FREEDOM`
    degrees of freedom, else None."""
    if n_samples - n_fixed >= MIN_DEGREES_OF_FREEDOM:
        return None
    return (f"only {n_samples} individuals are analysed (genotyped, with a phenotype and "
            f"every covariate, after the filters): {n_samples - n_fixed} degrees of freedom "
            f"after {n_fixed} fixed effect(s), fewer than {MIN_DEGREES_OF_FREEDOM}, so the "
            "estimates (hsq, Pi, the variances, the effects) are meaningless, mostly their "
            "priors")


@dataclass
class LoadedAlphabetData:
    """An :class:`~bayesmix.prepare.alphabet_data.AlphabetData` and the report of how it was made.

    counts : (what, how many) rows: samples kept/dropped per reason, SNPs dropped per filter.
    warnings : what makes the estimates doubtful (:func:`sample_size_warning`).
    """

    data: object
    counts: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def load_alphabet_data(bfile, pheno, *, mpheno: int = 1, qcovar=None, dcovar=None,
                       filters: SampleSnpFilters | None = None,
                       standardize: bool = True) -> LoadedAlphabetData:
    """Genotypes, phenotype and covariates of the shared samples -> AlphabetData.

    Parameters
    ----------
    bfile : PLINK prefix.  pheno : GCTA phenotype file (FID IID y1 y2 ...).
    mpheno : 1-based trait column of ``pheno``.
    qcovar, dcovar : quantitative / discrete covariate files (FID IID c1 c2 ...), optional.
    filters : sample and SNP filters.
    standardize : genotypes (x - 2p) / sqrt(2p(1-p)) (GCTB's default) or centred counts.
    """
    from bayesmix.io.pheno import align_samples, read_covar, read_phen, read_qcovar
    from bayesmix.io.plink import Genotypes
    from bayesmix.prepare.alphabet_data import AlphabetData

    filters = filters or SampleSnpFilters()
    # the samples first (from the .fam alone), then one pass over the genotypes of the
    # analysed ones for the allele frequencies
    samples, sample_counts = Genotypes.kept_samples(bfile, keep=filters.keep,
                                                    remove=filters.remove)
    counts = list(sample_counts.items())
    aligned = align_samples(samples, read_phen(pheno, mpheno),
                            read_qcovar(qcovar) if qcovar else None,
                            read_covar(dcovar) if dcovar else None)
    counts += list(aligned.counts.items())
    genotypes = Genotypes.open(bfile, keep=aligned.samples, drop_monomorphic=True,
                               **filters.snp_options())
    # every SNP filter asked for is reported, 0 included (a region file that matched nothing
    # shows as 0); monomorphic SNPs, dropped without being asked, only when there are some
    counts += [(reason, n) for reason, n in genotypes.filter_counts.items()
               if "sample" not in reason and (n or reason != "monomorphic SNPs")]
    data = AlphabetData.from_plink(genotypes, aligned.y, aligned.design, aligned.design_columns,
                                   standardize=standardize)
    warning = sample_size_warning(data.genotypes.n_samples, data.design.shape[1])
    return LoadedAlphabetData(data, counts, [warning] if warning else [])
