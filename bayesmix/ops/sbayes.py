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
    """``(theta, indptr, indices, values, s, xty, xtx_diag, settings) -> (logp, grad)``, or
    with ``band`` ``(theta, row_ptr, first, values, ...)`` (LD in the band layout,
    :mod:`bayesmix.kernels.ld_band`).

    ``values_dtype`` is the storage type of the LD values ("float32" or "int16").
    """

    __props__ = ("values_dtype", "band")

    def __init__(self, values_dtype: str = "float32", band: bool = False):
        self.values_dtype, self.band = values_dtype, bool(band)
        self.data_dtypes = ("int64", "int64" if band else "int32", values_dtype, "float64",
                            "float64", "float64", "float64")

    def kernel(self):
        return kernels.summary_loglik_band if self.band else kernels.summary_loglik


register_numba_kernel(SummaryLogLik, kernels)


def likelihood_inputs(data, ridge: float = 0.0) -> list[np.ndarray]:
    """The data arrays of the Op for ``data`` (SummaryData) and a ridge in [0, 1)."""
    ld = data.ld
    settings = np.array([ld.scale, ridge, data.yty, data.nobs], dtype=np.float64)
    columns = (np.asarray(ld.row_first, np.int64) if ld.is_band
               else np.asarray(ld.indices, np.int32))
    return [np.asarray(ld.indptr, np.int64), columns, np.asarray(ld.data), np.sqrt(data.n),
            data.xty, data.xtx_diag, settings]


def summary_loglik(beta, sig2_e, data, ridge: float = 0.0, inflation=None, sample_weight=None):
    """Symbolic summary-data log-likelihood of standardised effects ``beta`` and ``sig2_e``.

    ``inflation`` (symbolic (M,) vector kappa >= 1, or None for kappa = 1) gives SNP j the
    residual variance sig2_e kappa_j (the robust setting's LD sampling variance,
    :mod:`bayesmix.models.sbayes`): the likelihood with per-SNP sample sizes n_j / kappa_j,
    and ``sample_weight`` omega in (0, 1] (symbolic scalar; None for 1) counts the phenotype
    as omega nobs observations,

        logp = -omega nobs/2 log(2 pi sig2_e) - SSE_kappa / (2 sig2_e),
        SSE_kappa = omega y'y - 2 beta'K^-1 X'y + beta'K^-1/2 X'X K^-1/2 beta,   K = diag(kappa),

    written as the Op at gamma = K^-1/2 beta (its SSE has -2 gamma'X'y) plus the correction
    2 sum_j beta_j X'y_j (kappa_j^-1/2 - kappa_j^-1) of the linear term and (1 - omega) times
    the Op's beta-free terms; PyTensor differentiates the sum (the Op supplies d/d gamma and
    d/d sig2_e).
    """
    arrays = likelihood_inputs(data, ridge)
    op = SummaryLogLik(str(arrays[2].dtype), data.ld.is_band)
    beta = pt.as_tensor_variable(beta).astype("float64")
    sig2_e = pt.as_tensor_variable(sig2_e).astype("float64")
    if inflation is None:
        return op(pt.concatenate([beta, pt.reshape(sig2_e, (1,))]), *arrays)[0]
    root = pt.sqrt(inflation)
    logp = op(pt.concatenate([beta / root, pt.reshape(sig2_e, (1,))]), *arrays)[0]
    logp = logp - pt.sum(beta * data.xty * (1.0 / root - 1.0 / inflation)) / sig2_e
    if sample_weight is None:
        return logp
    unweighted = data.nobs / 2.0 * pt.log(2.0 * np.pi * sig2_e) + data.yty / (2.0 * sig2_e)
    return logp + (1.0 - sample_weight) * unweighted
