"""PyMC distributions for effect-size priors (spike-and-slab, normal mixtures, MAF-scaled, t-slab, bivariate)."""
