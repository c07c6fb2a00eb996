"""Plots: Q-Q (plain, stratified, conditional), Venn, densities, power curves, traces."""
