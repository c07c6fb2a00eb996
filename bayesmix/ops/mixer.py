"""PyTensor Ops of the MiXeR univariate likelihood (fused logp + gradient, numba kernels).

``theta`` is the vector of natural parameters ``(pi, sig2_beta, sig2_zero)``; the gradient
output is d logp / d theta. Gradients the Op cannot honour are refused, not reported as 0:

- ``full`` (sampled causal sets): the objective is piecewise constant in pi (steps of 1/M), so
  d/d pi is undefined (the kernel's gradient output holds NaN there). ``pytensor.grad``
  through the Op raises ``NullTypeGradError``; ``pm.find_MAP`` then falls back to the
  gradient-free Powell method with a warning, and ``pm.sample`` assigns gradient-free steps
  (an explicit ``pm.NUTS`` is refused). Use "convolve" or "fast" for gradients.
- ``with_grad=False`` (the logp-only variant swapped in by
  :func:`bayesmix.ops.fused.fused_to_logp_only`): its gradient output is not computed.
- ``infinitesimal`` reads theta as (ignored, sig2_inf, sig2_zero): its logp does not depend
  on theta[0], so d/d theta[0] = 0 is exact.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from pytensor.gradient import DisconnectedType, disconnected_type, grad_not_implemented

from bayesmix.kernels import mixer as kernels
from bayesmix.ops.fused import FusedLogpGradOp, register_numba_kernel


class UnivariateMixerLogp(FusedLogpGradOp):
    """Fused MiXeR univariate log-likelihood Op for one ``method``.

    Data inputs by method (all vectors):
    - ``fast``, ``infinitesimal``: z, n, weights, weak, l2, l4 (``MixerData.ld_moments``);
    - ``full``: z, n, weights, weak, col_indptr, col_rows, col_r2, het
      (``MixerData.ld_columns``);
    - ``convolve``: z, n, weights, weak, weak4, indptr, indices, r2, het.
    """

    __props__ = ("method", "censor_z", "kmax", "seed", "n_chunks", "tail_log", "with_grad")
    _DTYPES = {
        "fast": ("float64",) * 6,
        "infinitesimal": ("float64",) * 6,
        "full": ("float64",) * 4 + ("int64", "int32", "float32", "float64"),
        "convolve": ("float64",) * 5 + ("int64", "int32", "float32", "float64"),
    }

    def __init__(self, method="convolve", censor_z=0.0, kmax=1000, seed=0, n_chunks=4,
                 tail_log=37.0, with_grad=True):
        if method not in self._DTYPES:
            raise ValueError(f"unknown method {method!r}")
        self.method = method
        self.censor_z = float(censor_z)
        self.kmax = int(kmax)
        self.seed = int(seed)
        self.n_chunks = int(n_chunks)
        self.tail_log = float(tail_log)
        self.with_grad = bool(with_grad)
        self.data_dtypes = self._DTYPES[method]

    def kernel(self):
        return _kernel(self.method, self.censor_z, self.kmax, self.seed, self.n_chunks,
                       self.tail_log, self.with_grad)

    def without_grad(self):
        if self.method != "convolve":  # the other kernels get the gradient almost for free
            return self
        return UnivariateMixerLogp(self.method, self.censor_z, self.kmax, self.seed,
                                   self.n_chunks, self.tail_log, with_grad=False)

    def perform(self, node, inputs, output_storage):
        # the wrapper's Python body calls the disk-cached numba kernels, so graphs run by
        # Python linkers (the fit sequences') do not compile the wrapper in every process
        logp, grad = self.kernel().py_func(*inputs)
        output_storage[0][0] = np.asarray(logp, dtype=np.float64)
        output_storage[1][0] = np.asarray(grad, dtype=np.float64)

    def gradient_refusal(self) -> str | None:
        """Why this Op cannot give d logp / d theta (None when it can)."""
        if self.method == "full":
            return ("the sampled 'full' MiXeR likelihood is piecewise constant in pi (steps "
                    "of 1/M): its derivative in pi is undefined. Optimise it with a "
                    "gradient-free method (Nelder-Mead, Powell) or use the 'convolve' or "
                    "'fast' likelihood for gradients (NUTS, L-BFGS)")
        if not self.with_grad:
            return "this logp-only variant of the MiXeR likelihood does not compute gradients"
        return None

    def pullback(self, inputs, outputs, cotangents):
        reason = self.gradient_refusal()
        if reason is None or isinstance(cotangents[0].type, DisconnectedType):
            return super().pullback(inputs, outputs, cotangents)
        return ([grad_not_implemented(self, 0, inputs[0], reason)]
                + [disconnected_type() for _ in inputs[1:]])


@functools.lru_cache(maxsize=None)
def _kernel(method, censor_z, kmax, seed, n_chunks, tail_log, with_grad):
    """njit ``f(theta, *data) -> (logp, grad)`` for ``method`` with the settings bound."""
    if method == "fast":
        @numba.njit
        def f(theta, z, n, w, weak, l2, l4):
            return kernels.fast_logp_grad(z, n, w, weak, l2, l4, theta[0], theta[1], theta[2],
                                          censor_z)
    elif method == "infinitesimal":
        @numba.njit
        def f(theta, z, n, w, weak, l2, l4):
            logp, grad = kernels.fast_logp_grad(z, n, w, weak, l2, l4, 1.0, theta[1],
                                                theta[2], censor_z)
            grad[0] = 0.0
            return logp, grad
    elif method == "full":
        @numba.njit
        def f(theta, z, n, w, weak, col_indptr, col_rows, col_r2, het):
            return kernels.full_logp_grad(z, n, w, weak, col_indptr, col_rows, col_r2, het,
                                          theta[0], theta[1], theta[2], kmax, seed, censor_z,
                                          n_chunks)
    else:
        gl_x, gl_w = kernels.GL_NODES, kernels.GL_WEIGHTS

        @numba.njit
        def f(theta, z, n, w, weak, weak4, indptr, indices, r2, het):
            return kernels.convolve_logp_grad(z, n, w, weak, weak4, indptr, indices, r2, het,
                                              theta[0], theta[1], theta[2], censor_z, gl_x,
                                              gl_w, tail_log, with_grad)
    return f


register_numba_kernel(UnivariateMixerLogp, kernels)


def likelihood_data(like) -> dict:
    """Named data arrays of a :class:`bayesmix.models.mixer.UnivariateLikelihood`, in Op order."""
    d = like.data
    out = {"z": d.z, "n": d.n, "weights": d.weights, "weak": d.weak}
    if like.method in ("fast", "infinitesimal"):
        out.update(zip(("l2", "l4"), d.ld_moments))
    elif like.method == "full":
        out.update(zip(("col_indptr", "col_rows", "col_r2"), d.ld_columns))
        out["het"] = d.het
    else:
        out.update(weak4=d.weak4, indptr=d.indptr, indices=d.indices, r2=d.r2, het=d.het)
    return out


def univariate_loglik(like, theta, *, prefix: str = "mixer"):
    """Log-likelihood tensor of ``like`` (a ``UnivariateLikelihood``) at parameter vector theta.

    Inside a PyMC model context the data arrays are registered as ``pm.Data`` named
    ``{prefix}_z``, ``{prefix}_n``, ... (keeps compiled graphs cacheable); outside, constants.
    """
    import pymc as pm
    import pytensor.tensor as pt

    op = UnivariateMixerLogp(like.method, like.censor_z, like.kmax, like.seed, like.n_chunks,
                             like.tail_log)
    arrays = likelihood_data(like)
    model = pm.modelcontext(None) if pm.Model.get_context(error_if_none=False) else None
    if model is not None:
        inputs = [pm.Data(f"{prefix}_{name}", a) for name, a in arrays.items()]
    else:
        inputs = [pt.as_tensor_variable(a) for a in arrays.values()]
    return op(theta, *inputs)[0]
