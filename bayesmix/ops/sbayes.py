"""The SBayes summary-data likelihood as a PyTensor Op (logp and gradient in one kernel pass).

Inputs: ``theta = concatenate([beta, [sig2_e]])`` and the data arrays of a
:class:`~bayesmix.prepare.summary_data.SummaryData` (see :func:`likelihood_inputs`);
the kernel is :func:`bayesmix.kernels.sbayes.summary_loglik`.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from bayesmix.kernels import sbayes as kernels
from bayesmix.ops.fused import FusedLogpGradOp, register_numba_kernel


class SummaryLogLik(FusedLogpGradOp):
    """``(theta, indptr, indices, values, s, xty, xtx_diag, settings) -> (logp, grad)``.

    ``values_dtype`` is the storage type of the LD values ("float32" or "int16").
    """

    __props__ = ("values_dtype",)

    def __init__(self, values_dtype: str = "float32"):
        self.values_dtype = values_dtype
        self.data_dtypes = ("int64", "int32", values_dtype, "float64", "float64", "float64",
                            "float64")

    def kernel(self):
        return kernels.summary_loglik


register_numba_kernel(SummaryLogLik, kernels)


def likelihood_inputs(data, ridge: float = 0.0) -> list[np.ndarray]:
    """The data arrays of the Op for ``data`` (SummaryData) and a ridge in [0, 1)."""
    ld = data.ld
    settings = np.array([ld.scale, ridge, data.yty, data.nobs], dtype=np.float64)
    return [np.asarray(ld.indptr, np.int64), np.asarray(ld.indices, np.int32),
            np.asarray(ld.data), np.sqrt(data.n), data.xty, data.xtx_diag, settings]


def summary_loglik(beta, sig2_e, data, ridge: float = 0.0):
    """Symbolic summary-data log-likelihood of standardised effects ``beta`` and ``sig2_e``."""
    arrays = likelihood_inputs(data, ridge)
    op = SummaryLogLik(str(arrays[2].dtype))
    theta = pt.concatenate([pt.as_tensor_variable(beta).astype("float64"),
                            pt.reshape(pt.as_tensor_variable(sig2_e).astype("float64"), (1,))])
    return op(theta, *arrays)[0]
