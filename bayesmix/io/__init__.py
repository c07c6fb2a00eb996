"""Data layer: PLINK genotypes, phenotypes and covariates, GWAS summary statistics, harmonisation and QC."""
