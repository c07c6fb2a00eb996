"""Files -> model inputs, shared by every front end and by Python users.

The model-input containers (numpy/scipy/pandas/numba only, no PyMC):

- :mod:`bayesmix.prepare.alphabet_data`: :class:`AlphabetData`, phenotype, covariates and
  genotypes of an individual-level alphabet model, its genotypes a
  :class:`~bayesmix.prepare.compact_genotypes.CompactGenotypes` (int8, standardised on the
  fly by the kernels of :mod:`bayesmix.kernels.genotype_matrix`).
- :mod:`bayesmix.prepare.summary_data`: :class:`SummaryData`, the SBayes normal equations of
  GWAS statistics harmonised to a square LD matrix (:func:`prepare_summary_data`);
  :mod:`bayesmix.prepare.ld_conditioning` chooses the robust setting's LD ridge and repairs
  strongly indefinite LD (:func:`condition_ld`).
- :mod:`bayesmix.prepare.mixer_data`: :class:`MixerData` (one trait's z-scores, N, pruning
  weights and tag x reference r^2) and :class:`BivariateData` (two traits on the same tags).

Their loaders from files:

- :mod:`bayesmix.prepare.alphabet`: PLINK genotypes + phenotype (+ covariates), with the
  sample and SNP filters (:func:`load_alphabet_data`).
- :mod:`bayesmix.prepare.summary`: ``.ma`` statistics + LD matrices, with GCTB's SNP
  selection (:func:`load_summary_data`).
- :mod:`bayesmix.prepare.mixer`: GWAS summary statistics + per-chromosome LD references ->
  the MiXeR univariate (:func:`load_mixer_data`) and bivariate (:func:`load_bivariate_data`)
  model inputs, with the chromosome and region parsers of MiXeR's command line.
"""
