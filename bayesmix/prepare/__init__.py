"""Files -> model inputs, shared by every front end and by Python users.

- :mod:`bayesmix.prepare.mixer`: GWAS summary statistics + per-chromosome LD references ->
  the MiXeR univariate (:func:`load_mixer_data`) and bivariate (:func:`load_bivariate_data`)
  model inputs, with the chromosome and region parsers of MiXeR's command line.
"""
