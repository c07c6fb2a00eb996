"""Simulation: effect sizes from every prior, phenotypes, GWAS, summary statistics from LD."""
