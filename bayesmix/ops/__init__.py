"""PyTensor Ops wrapping the numba kernels (log-likelihoods with fused gradients)."""
