"""An exp that LLVM can vectorise inside numba loops.

numba compiles ``math.exp`` to a call of the C library's scalar ``exp`` (llvmlite's wheels
carry no SVML), so a loop that takes exp of each element runs one element at a time. The
convolve likelihood of MiXeR's model (:mod:`bayesmix.kernels.mixer`) spends most of its time
in such a loop, one exp per (quadrature node, LD partner). :func:`vector_exp` is plain
arithmetic that the loop vectoriser turns into 4-wide AVX2 code:

- range reduction ``x = n ln2 + r`` with ``|r| <= ln2 / 2`` (slightly more where the
  rounding of ``x / ln2`` to ``n`` is off by an ulp), ``ln2`` split in a high part exact in
  32 bits and a low part (Cody and Waite), so ``n ln2_hi`` has no rounding error;
- ``exp(r)`` by its Taylor polynomial of degree 13 (truncation below 5e-18 relative);
- ``2^n`` written directly as the bits of a double. ``n`` is rounded by adding 1.5 * 2^52,
  which leaves it in the low bits of the sum: AVX2 has no packed double-to-int64
  conversion, and a ``floor`` and ``int`` made LLVM do the lanes one by one.

Relative error within 2 ulp of the correctly rounded value on [-708, 709.78]; below -708 it
returns 0 (the true value is under 3.3e-308, in the subnormal range), above 709.78 inf, and
NaN for NaN. tests/test_vector_math.py checks it against ``math.exp``.
"""

from __future__ import annotations

import math

from numba import types
from numba.extending import intrinsic

from bayesmix.kernels.jit import njit

LN2_HI = 6.93147180369123816490e-01   # ln 2 rounded to 32 significant bits
LN2_LO = 1.90821492927058770002e-10   # ln 2 - LN2_HI
INV_LN2 = 1.0 / math.log(2.0)
#: Taylor coefficients 1/k! for k = 13 down to 0 (Horner order)
TAYLOR = tuple(1.0 / math.factorial(k) for k in range(13, -1, -1))
LOWEST = -708.0             # exp(-708) = 3.3e-308, still a normal double
HIGHEST = 709.782712893384  # log of the largest double
ROUNDING_SHIFT = 1.5 * 2.0**52  # x + this rounds x to an integer held in the low bits


@intrinsic
def _double_from_bits(typingctx, bits):
    """The double whose IEEE-754 bit pattern is the int64 ``bits``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))
    return types.float64(types.int64), codegen


@intrinsic
def _bits_of_double(typingctx, value):
    """The IEEE-754 bit pattern of the double ``value``, as an int64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))
    return types.int64(types.float64), codegen


@njit(fastmath={"contract"})  # reassociation would undo the split of ln 2
def vector_exp(x):
    """exp(x) for a float64 ``x``, in straight-line code a numba loop can vectorise."""
    shifted = x * INV_LN2 + ROUNDING_SHIFT
    n = shifted - ROUNDING_SHIFT  # x / ln2 rounded to an integer
    r = (x - n * LN2_HI) - n * LN2_LO
    # Horner's rule written out: a loop over the tuple would not vectorise
    c = TAYLOR
    p = (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) * r + c[6]
    p = (((((((p * r + c[7]) * r + c[8]) * r + c[9]) * r + c[10]) * r + c[11]) * r + c[12])
         * r + c[13])
    # 2^(n - 1) (normal for n in -1021..1024, i.e. on [LOWEST, HIGHEST]) times 2; elsewhere
    # the bits are garbage and the value is replaced below
    n_bits = _bits_of_double(shifted) - _bits_of_double(ROUNDING_SHIFT)
    value = (p * 2.0) * _double_from_bits((n_bits + 1022) << 52)
    if x < LOWEST:
        value = 0.0
    if x > HIGHEST:
        value = math.inf
    if x != x:
        value = x
    return value
