"""The model catalogue, installed as ``bayesmix.models``.

- ``mixer``: MiXeR univariate and bivariate causal mixture models of GWAS z-scores.
- ``alphabet``: BayesB/C/S/N/NS/R on individual genotypes.
- ``sbayes``: SBayesC/R/S on summary statistics and an LD matrix.

Each module declares PyMC graphs and names their default steps and fit sequence.
"""
