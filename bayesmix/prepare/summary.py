"""Summary-data (SBayes) inputs from files: GWAS statistics + reference LD.

:func:`load_summary_data` reads the statistics (``.ma`` or any format
:func:`bayesmix.io.sumstats.read_sumstats` knows) and the LD (one matrix or a list of
per-chromosome matrices, :func:`bayesmix.ld.open.open_reference_ld`), applies GCTB's SNP
selection (``--extract``, ``--exclude``, ``--chr``, ``--exclude-mhc``,
``--exclude-region``, ``--p-value``) and QC, and builds the normal equations
(:func:`bayesmix.prepare.summary_data.prepare_summary_data`). Every SNP dropped is counted
in the QC table.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

log = logging.getLogger("bayesmix")


@dataclass
class SummarySelection:
    """GCTB's SNP selection for summary-data analyses.

    extract, exclude : SNP lists to keep / remove.  chrom : keep one chromosome.
    exclude_mhc : ``"hg19"``/``"hg38"``: drop the MHC.  exclude_regions : ``chr start end`` file.
    p_value : keep SNPs whose GWAS p-value is at most this.
    keep_ambiguous : keep strand-ambiguous A/T and C/G SNPs.
    """

    extract: str | None = None
    exclude: str | None = None
    chrom: str | None = None
    exclude_mhc: str | None = None
    exclude_regions: str | None = None
    p_value: float | None = None
    keep_ambiguous: bool = False

    def harmonise_options(self) -> dict:
        return dict(extract=self.extract, exclude=self.exclude, chrom=self.chrom,
                    exclude_mhc=self.exclude_mhc, exclude_regions=self.exclude_regions,
                    keep_ambiguous=self.keep_ambiguous)


def load_summary_data(gwas_summary, *, ldm=None, mldm=None,
                      selection: SummarySelection | None = None, impute_n: bool = False,
                      rsq: float | None = None, ld_in_sample: bool | None = None, say=None,
                      ld_dtype: str = "int16"):
    """Statistics + LD -> :class:`~bayesmix.prepare.summary_data.SummaryData`.

    ``say`` (a callable taking one line) receives what was read, with timings. ``ld_dtype``:
    how the LD values are held (int16 by default: 2 bytes per value, r rounded to within
    1.5e-5; GCTB files are decoded straight into it, without a float32 copy of the matrix).
    GCTB's full, band and shrunk files are held in the band layout (``LDMatrix.row_first``:
    no column indices, 2 bytes per value), which the SBayes sweeps read directly.
    """
    from bayesmix.ld.open import open_reference_ld
    from bayesmix.prepare.summary_data import prepare_summary_data

    say = say or log.info
    selection = selection or SummarySelection()
    started = time.perf_counter()
    say(f"Reading the LD matrix {ldm if ldm is not None else f'list {mldm}'} ...")
    ld = open_reference_ld(ldm, mldm, dtype=ld_dtype, band=True)
    held = "values in the band layout" if ld.is_band else "nonzeros"
    say(f"Read an LD matrix of {ld.shape[0]} SNPs ({ld.nnz} {held}, {ld.dtype}) in "
        f"{time.perf_counter() - started:.1f} s.")
    sumstats = read_selected_sumstats(gwas_summary, selection, say)
    return prepare_summary_data(sumstats, ld, impute_n=impute_n, rsq=rsq,
                                ld_in_sample=ld_in_sample, **selection.harmonise_options())


def read_selected_sumstats(gwas_summary, selection: SummarySelection, say):
    """The statistics of ``gwas_summary`` with the p-value selection applied (counted)."""
    from bayesmix.io.sumstats import read_sumstats, reading_notes

    sumstats = read_sumstats(gwas_summary)
    say(f"Read {len(sumstats)} SNPs from [{gwas_summary}].")
    for line in reading_notes(sumstats, gwas_summary):
        say(line)
    if selection.p_value is not None:
        from bayesmix.prepare.summary_data import gwas_p_values

        keep = ~(gwas_p_values(sumstats) > selection.p_value)
        say(f"{int((~keep).sum())} SNPs with GWAS p-value > {selection.p_value:g} removed.")
        sumstats = sumstats.loc[keep]
    return sumstats


def load_eigen_data(gwas_summary, ldm_eigen, *, selection: SummarySelection | None = None,
                    impute_n: bool = False, cutoff: float | None = None, say=None):
    """Statistics + eigen-decomposed block LD ->
    :class:`~bayesmix.prepare.eigen_data.EigenSummaryData` (the same selection and QC as
    :func:`load_summary_data`; ``cutoff``: GCTB's ``--ldm-eigen-cutoff``)."""
    from bayesmix.ld.open import open_eigen
    from bayesmix.prepare.eigen_data import prepare_eigen_data

    say = say or log.info
    selection = selection or SummarySelection()
    started = time.perf_counter()
    eigen = open_eigen(ldm_eigen)
    say(f"Read {eigen.n_blocks} eigen-decomposed LD blocks of {len(eigen.snps)} SNPs "
        f"({int(eigen.rank_ptr[-1])} eigenvectors) from [{ldm_eigen}] in "
        f"{time.perf_counter() - started:.1f} s.")
    sumstats = read_selected_sumstats(gwas_summary, selection, say)
    data = prepare_eigen_data(sumstats, eigen, cutoff=cutoff, impute_n=impute_n,
                              **selection.harmonise_options())
    del eigen, sumstats
    _return_freed_memory()
    return data


def _return_freed_memory() -> None:
    """Give the heap freed by loading back to the system (glibc's ``malloc_trim``; nothing
    elsewhere). Reading and re-decomposing LD blocks leaves the heap fragmented: at 1.1M SNPs
    0.4 GB freed but still counted against the run, 1.53 GB resident for 1.14 GB in use."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl): no such call
        pass
