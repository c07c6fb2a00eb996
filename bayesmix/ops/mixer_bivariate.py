"""PyTensor Op of the bivariate MiXeR fast likelihood (fused logp + gradient, numba kernel).

``theta`` is the 9-vector of natural parameters in
:data:`bayesmix.kernels.mixer_bivariate.PARAM_NAMES` order; data inputs are
z1, z2, n1, n2, weak, l2, l4, weights (float64 vectors over the tag SNPs; weak the tags'
weak-LD sums). The fast model is smooth in every parameter, so the Op serves ``find_MAP``
and NUTS.
"""

from __future__ import annotations

import functools

import numba
import numpy as np

from bayesmix.kernels import mixer_bivariate as kernels
from bayesmix.ops.fused import FusedLogpGradOp, register_numba_kernel


class BivariateMixerLogp(FusedLogpGradOp):
    """Fused bivariate MiXeR (fast model) log-likelihood Op."""

    __props__ = ()
    data_dtypes = ("float64",) * 8

    def kernel(self):
        return _kernel()


@functools.lru_cache(maxsize=None)
def _kernel():
    @numba.njit
    def f(theta, z1, z2, n1, n2, weak, l2, l4, w):
        return kernels.fast_logp_grad(z1, z2, n1, n2, weak, l2, l4, w, theta)

    return f


register_numba_kernel(BivariateMixerLogp, kernels)


def bivariate_data_arrays(data) -> list[np.ndarray]:
    """The Op's data arrays of a :class:`bayesmix.prepare.mixer_data.BivariateData`."""
    l2, l4 = data.trait1.ld_moments
    return [data.trait1.z, data.trait2.z, data.trait1.n, data.trait2.n, data.trait1.weak, l2,
            l4, data.weights]


def bivariate_loglik(data, theta, *, prefix: str = "mixer2"):
    """Log-likelihood tensor at parameter vector ``theta``; inside a PyMC model the data are
    registered as ``pm.Data`` named ``{prefix}_0, ...`` (cacheable graphs)."""
    import pymc as pm
    import pytensor.tensor as pt

    arrays = bivariate_data_arrays(data)
    model = pm.modelcontext(None) if pm.Model.get_context(error_if_none=False) else None
    if model is not None:
        inputs = [pm.Data(f"{prefix}_{i}", a) for i, a in enumerate(arrays)]
    else:
        inputs = [pt.as_tensor_variable(a) for a in arrays]
    return BivariateMixerLogp()(theta, *inputs)[0]
