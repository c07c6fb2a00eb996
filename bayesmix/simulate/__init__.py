"""Simulation: effect sizes from every prior, phenotypes, GWAS, summary statistics from LD.

Public entry points (imported lazily, so ``import bayesmix.simulate`` loads neither scipy's
statistics nor numba):

- effects (``bayesmix.simulate.effects``): :func:`draw_effects` (any prior by name),
  :func:`mixer_effects`, :func:`mixer_bivariate_effects`, :func:`bayesc_effects`,
  :func:`bayesr_effects`, :func:`bayess_effects`, :func:`bayesb_effects`,
  :func:`bayesn_effects`, :func:`bayesns_effects` (windows from :func:`window_ids`); the truth is an
  :class:`Effects` (per-allele ``beta``, standardised ``b_std``, ``truth()`` record).
- phenotypes (``.phenotype``): :func:`simulate_phenotypes`, :func:`genetic_values`,
  :func:`ascertain` (case-control sampling),
  :func:`write_phen`.
- GWAS on genotypes (``.gwas``): :func:`marginal_gwas` (what ``plink --linear`` computes).
- summary statistics from LD (``.from_ld``): :func:`sumstats_from_ld`, :class:`LDSampler`,
  :func:`draw_from_genotype_blocks`, :class:`LDDraw`, :func:`sumstats_table`, :func:`overlap_rho0`, :func:`genetic_variance`,
  :func:`block_diagonal_ld`.
- one call (``.scenario``): :func:`simulate_gwas` -> :class:`SimulatedGWAS` (effects,
  phenotypes, summary statistics, how they were made): what ``bayesmix simulate`` writes.
- genotypes (``.genotypes``): :func:`simulate_genotypes`, :func:`simulate_bfile`,
  :func:`write_bfile`.
- coalescent genomes (``.coalescent``, needs the ``sim`` extra): :func:`simulate_coalescent`
  -> :class:`CoalescentData` (a cohort and an independent reference panel, PLINK output).
"""

_LAZY = {
    **dict.fromkeys(["Effects", "draw_effects", "mixer_effects", "mixer_bivariate_effects",
                     "bayesc_effects", "bayesr_effects", "bayess_effects", "bayesb_effects",
                     "bayesn_effects", "bayesns_effects", "window_ids", "PRIORS"],
                    "bayesmix.simulate.effects"),
    **dict.fromkeys(["Phenotypes", "simulate_phenotypes", "genetic_values", "ascertain",
                     "write_phen"],
                    "bayesmix.simulate.phenotype"),
    "marginal_gwas": "bayesmix.simulate.gwas",
    **dict.fromkeys(["LDSampler", "LDDraw", "sumstats_from_ld", "draw_from_genotype_blocks",
                     "sumstats_table", "overlap_rho0", "genetic_variance", "block_diagonal_ld",
                     "ld_blocks"],
                    "bayesmix.simulate.from_ld"),
    **dict.fromkeys(["simulate_gwas", "SimulatedGWAS"], "bayesmix.simulate.scenario"),
    **dict.fromkeys(["simulate_genotypes", "simulate_bfile", "write_bfile",
                     "iter_simulated_blocks"], "bayesmix.simulate.genotypes"),
    **dict.fromkeys(["simulate_coalescent", "CoalescentData"], "bayesmix.simulate.coalescent"),
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bayesmix.simulate' has no attribute {name!r}")
