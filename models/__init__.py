"""The model catalogue, installed as ``bayesmix.models``.

- ``mixer``: MiXeR univariate causal mixture model of GWAS z-scores.
- ``mixer_bivariate``: MiXeR bivariate model of two traits (polygenic overlap).
- ``alphabet``: BayesB/C/S/N/NS/R on individual genotypes.
- ``sbayes``: SBayesC/R/S on summary statistics and an LD matrix.

Each module declares PyMC graphs; :mod:`bayesmix.inference` knows which steps and fit
sequences serve them (models never import inference). Their inputs are the data containers
of :mod:`bayesmix.prepare`.
"""
