"""bayesmix.kernels.jit.njit: the compilation options it promises hold inside jitted callers."""

import numpy as np

from bayesmix.kernels.jit import njit


@njit(fastmath=False, cache=False)
def _exact_ratio(x, n):
    return x / n


@njit(cache=False)
def _ratios_in_a_fastmath_loop(x, n):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = _exact_ratio(x[i], n)
    return out


def test_a_fastmath_false_kernel_stays_exact_inside_a_fastmath_caller():
    """numba lets a kernel whose fastmath option is unset inherit its caller's flags; inlined
    into a fastmath loop, x / n then becomes x * (1 / n), which differs in the last bit for
    about a third of these x. Compiled through the caller first, the kernel must still divide
    exactly, there and when called on its own."""
    x = np.arange(1.0, 2001.0)
    n = 3.0
    assert np.count_nonzero(x * (1.0 / n) != x / n) > 100   # the check can fail
    np.testing.assert_array_equal(_ratios_in_a_fastmath_loop(x, n), x / n)
    assert all(_exact_ratio(v, n) == v / n for v in x[:50])
