"""numba kernels on plain arrays: likelihoods, gradients, Gibbs sweeps, GWAS regressions.

No pandas, no PyMC here. Import the submodule you need (``bayesmix.kernels.gwas`` ...): this
package does not import them eagerly, so ``import bayesmix`` never triggers compilation.
Every kernel is built with :func:`bayesmix.kernels.jit.njit`, which fixes caching, the
error model and the safe fastmath flags in one place.
"""
