"""Genetic values X beta as a PyTensor Op over a compact int8 genotype matrix.

The alphabet models' likelihood y ~ N(C alpha + X beta, sig2_e) needs X beta inside the PyMC
graph (so ``model.logp``, generic PyMC steps and prior/posterior predictive checks work)
without ever materialising X as floats. :class:`GenotypeMatVec` computes X beta with the numba
kernels of :mod:`bayesmix.kernels.genotype_matrix`; its pullback is X' v
(:class:`GenotypeRMatVec`), and vice versa, so gradients are exact.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

_TOKENS = itertools.count()


class _GenotypeOp(Op):
    """Shared plumbing: the genotype matrix is a fixed attribute, identified by a token."""

    __props__ = ("token",)

    def __init__(self, genotypes, token=None):
        self.genotypes = genotypes
        self.token = next(_TOKENS) if token is None else token


class GenotypeMatVec(_GenotypeOp):
    """beta (M,) -> X beta (n,), float64; X the (standardised) genotype matrix."""

    def make_node(self, beta):
        beta = pt.as_tensor_variable(beta).astype("float64")
        if beta.ndim != 1:
            raise TypeError("GenotypeMatVec expects a vector of effects")
        return Apply(self, [beta], [pt.dvector()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = self.genotypes.matvec(inputs[0])

    def infer_shape(self, node, shapes):
        return [(self.genotypes.n_samples,)]

    def pullback(self, inputs, outputs, cotangents):
        return [GenotypeRMatVec(self.genotypes, self.token)(cotangents[0])]


class GenotypeRMatVec(_GenotypeOp):
    """v (n,) -> X' v (M,), float64."""

    def make_node(self, v):
        v = pt.as_tensor_variable(v).astype("float64")
        if v.ndim != 1:
            raise TypeError("GenotypeRMatVec expects a vector over samples")
        return Apply(self, [v], [pt.dvector()])

    def perform(self, node, inputs, outputs):
        outputs[0][0] = self.genotypes.rmatvec(inputs[0])

    def infer_shape(self, node, shapes):
        return [(self.genotypes.n_snps,)]

    def pullback(self, inputs, outputs, cotangents):
        return [GenotypeMatVec(self.genotypes, self.token)(cotangents[0])]


def genetic_values(genotypes, beta):
    """Symbolic X beta for a :class:`~bayesmix.prepare.compact_genotypes.CompactGenotypes`."""
    return GenotypeMatVec(genotypes)(beta)


def as_float64(value) -> np.ndarray:
    """A float64 numpy array (keeps PyTensor from down-casting Python floats to float32)."""
    return np.asarray(value, dtype=np.float64)
