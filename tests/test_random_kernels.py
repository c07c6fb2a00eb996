"""The sweeps' counter-based uniforms (bayesmix.kernels.random) against splitmix64's published
reference stream, a plain-Python splitmix64, and the uniform distribution."""

import numpy as np
import pytest
from scipy import stats

from bayesmix.kernels.random import fill_uniforms, sweep_uniforms

MASK = (1 << 64) - 1

# splitmix64 seeded with 1477776061723855037: the first outputs of Vigna's reference
# splitmix64.c, as listed in the tests of the rand_xoshiro crate (rust-random/rngs)
PUBLISHED_SEED = 1477776061723855037
PUBLISHED_OUTPUTS = [1985237415132408290, 2979275885539914483, 13511426838097143398,
                     8488337342461049707, 15141737807933549159]


def splitmix64_reference(seed: int, n: int) -> list[int]:
    """splitmix64 in Python integers, the textbook way."""
    state, out = seed, []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


def grid_steps(uniforms) -> list[int]:
    """U[0, 1) numbers on the 2^-53 grid back to their integers."""
    return [int(u * 2.0**53) for u in np.ravel(uniforms)]


def test_published_stream():
    out = fill_uniforms(np.uint64(PUBLISHED_SEED), np.empty(len(PUBLISHED_OUTPUTS)))
    assert grid_steps(out) == [x >> 11 for x in PUBLISHED_OUTPUTS]


@pytest.mark.parametrize("seed", [0, 1, 2**63, MASK, 0x0123456789ABCDEF])
def test_matches_python_reference_in_memory_order(seed):
    out = fill_uniforms(np.uint64(seed), np.empty((2, 37)))
    assert grid_steps(out) == [x >> 11 for x in splitmix64_reference(seed, 74)]
    assert np.all((out >= 0.0) & (out < 1.0))


def test_sweep_uniforms_follow_the_generator():
    first = sweep_uniforms(np.random.default_rng(7), 1000)
    again = sweep_uniforms(np.random.default_rng(7), 1000)
    other = sweep_uniforms(np.random.default_rng(8), 1000)
    assert first.shape == (2, 1000)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    rng = np.random.default_rng(7)
    successive = [sweep_uniforms(rng, 1000) for _ in range(2)]
    assert not np.array_equal(successive[0], successive[1])


@pytest.mark.parametrize("seed", [3, 2**40 + 11])
def test_uniform_distribution(seed):
    """Kolmogorov-Smirnov and a 1,000-bin chi-square on 10^6 numbers, lag-1 and row-to-row
    correlation ~ 0 (sd 1e-3): a biased or repeating stream fails at these sizes."""
    component, effect = fill_uniforms(np.uint64(seed), np.empty((2, 500_000)))
    both = np.concatenate([component, effect])
    assert stats.kstest(both, "uniform").pvalue > 1e-4
    counts = np.bincount((both * 1000).astype(np.int64), minlength=1000)
    assert stats.chisquare(counts).pvalue > 1e-4
    assert abs(np.corrcoef(both[:-1], both[1:])[0, 1]) < 5e-3
    assert abs(np.corrcoef(component, effect)[0, 1]) < 7e-3


@pytest.mark.parametrize("seed", [0, 2**63 + 5, MASK])
def test_uniform_at_reads_the_stream_of_a_key_or_an_array(seed):
    """uniform_at(key, i) is element i of fill_uniforms(key) (the Python reference stream),
    in numba code and in Python; for an array it is the array's element; sweep_streams'
    two keys give the two rows of sweep_uniforms drawn from the same generator (the second
    key is the state of output n, wrapped modulo 2^64)."""
    from bayesmix.kernels.jit import njit
    from bayesmix.kernels.random import sweep_streams, uniform_at

    @njit(cache=False)
    def read(source, n):
        out = np.empty(n)
        for i in range(n):
            out[i] = uniform_at(source, i)
        return out

    expected = [x >> 11 for x in splitmix64_reference(seed, 50)]
    assert grid_steps(read(np.uint64(seed), 50)) == expected
    assert grid_steps([uniform_at(np.uint64(seed), i) for i in range(50)]) == expected
    array = np.random.default_rng(1).random(50)
    np.testing.assert_array_equal(read(array, 50), array)
    keys = sweep_streams(np.random.default_rng(seed % 1000), 700)
    rows = sweep_uniforms(np.random.default_rng(seed % 1000), 700)
    for key, row in zip(keys, rows):
        np.testing.assert_array_equal(read(key, 700), row)
