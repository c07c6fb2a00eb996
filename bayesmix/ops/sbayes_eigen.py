"""The eigen-LD SBayes likelihood as a PyTensor Op (logp and gradient in one kernel pass).

Inputs: ``theta = concatenate([beta, sig2])`` (standardised effects, one residual variance
per LD block) and the arrays of an :class:`~bayesmix.prepare.eigen_data.EigenSummaryData`;
the kernel is :func:`bayesmix.kernels.sbayes_eigen.eigen_loglik`.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from bayesmix.kernels import sbayes_eigen as kernels
from bayesmix.ops.fused import FusedLogpGradOp, register_numba_kernel


class EigenLogLik(FusedLogpGradOp):
    """``(theta, block_ptr, rank_ptr, q_ptr, q_values, n_block, w) -> (logp, grad)``."""

    __props__ = ()
    data_dtypes = ("int64", "int64", "int64", "float32", "float64", "float64")

    def kernel(self):
        return kernels.eigen_loglik


register_numba_kernel(EigenLogLik, kernels)


def eigen_loglik(beta, sig2, data):
    """Symbolic log-likelihood of standardised effects ``beta`` (M) and per-block residual
    variances ``sig2`` (B) under the eigen model of ``data`` (EigenSummaryData)."""
    arrays = [np.asarray(data.block_ptr, np.int64), np.asarray(data.rank_ptr, np.int64),
              np.asarray(data.q_ptr, np.int64), np.asarray(data.q_values, np.float32),
              np.asarray(data.n_block, np.float64), np.asarray(data.w, np.float64)]
    beta = pt.as_tensor_variable(beta).astype("float64")
    sig2 = pt.reshape(pt.as_tensor_variable(sig2).astype("float64"), (-1,))
    return EigenLogLik()(pt.concatenate([beta, sig2]), *arrays)[0]
