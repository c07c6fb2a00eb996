"""Inference: MAP/ML fitting, Gibbs step methods, the chain driver, results as ArviZ data."""
