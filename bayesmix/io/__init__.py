"""Data layer: PLINK genotypes, phenotypes and covariates, GWAS summary statistics, harmonisation and QC.

Public entry points (imported lazily, so ``import bayesmix.io`` stays cheap); formats and QC
rules are documented in ``docs/formats.md``:

- genotypes (``bayesmix.io.plink``): :class:`Genotypes` (``open``, ``read``, ``iter_blocks``,
  ``snps``, ``samples``, ``heterozygosity``, ``filter_report``), :func:`read_bim`,
  :func:`read_fam`.
- phenotypes (``.pheno``): :func:`read_phen`, :func:`read_qcovar`, :func:`read_covar`,
  :func:`align_samples` -> :class:`AlignedSamples`, :func:`check_design`.
- summary statistics (``.sumstats``): :func:`read_sumstats`, :func:`write_ma`,
  :func:`write_sumstats`, :func:`fill_beta_se`, :func:`beta_se_from_z`,
  :func:`require_sample_size`, :func:`require_snp_ids`, ``CANONICAL_COLUMNS``.
- harmonisation (``.harmonise``): :func:`harmonise` -> (aligned table, :class:`QCReport`).
- genomic regions (``.regions``): :func:`read_regions`, ``MHC_REGIONS``.
- files (``.files``): :func:`open_text`, :func:`read_bytes`, :func:`input_file`,
  :func:`atomic_open`, :func:`atomic_path`.
- input digests (``.digest``): :func:`input_digest`, :func:`file_digest`,
  :func:`options_fingerprint`.
- the output guard (``.outputs``): :func:`claim_outputs`, :func:`mcmc_output_bytes`.
"""

_LAZY = {
    **dict.fromkeys(["Genotypes", "read_bim", "read_fam"], "bayesmix.io.plink"),
    **dict.fromkeys(["read_phen", "read_qcovar", "read_covar", "align_samples",
                     "AlignedSamples", "check_design"], "bayesmix.io.pheno"),
    **dict.fromkeys(["read_sumstats", "write_ma", "write_sumstats", "fill_beta_se",
                     "beta_se_from_z", "require_sample_size", "require_snp_ids",
                     "CANONICAL_COLUMNS"],
                    "bayesmix.io.sumstats"),
    **dict.fromkeys(["harmonise", "QCReport"], "bayesmix.io.harmonise"),
    **dict.fromkeys(["read_regions", "MHC_REGIONS"], "bayesmix.io.regions"),
    **dict.fromkeys(["open_text", "read_bytes", "input_file", "atomic_open", "atomic_path"],
                    "bayesmix.io.files"),
    **dict.fromkeys(["input_digest", "file_digest", "options_fingerprint"], "bayesmix.io.digest"),
    **dict.fromkeys(["claim_outputs", "mcmc_output_bytes"], "bayesmix.io.outputs"),
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bayesmix.io' has no attribute {name!r}")
