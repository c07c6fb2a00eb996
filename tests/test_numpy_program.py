"""NumpyProgram (bayesmix.distributions.graph): small compiled PyTensor graphs run as numpy
calls give exactly the compiled function's outputs, and other graphs are left to PyTensor."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from bayesmix.distributions.graph import NumpyProgram, small_graph_mode


def compiled(inputs, outputs):
    function = pytensor.function(inputs, outputs, mode=small_graph_mode())
    function.trust_input = True
    return function


def test_elementwise_graphs_equal_the_compiled_function_exactly():
    """Weights as BayesC's derived values build them (log of (1 - pi, pi)), a variance from
    its log, a copied input and a constant: equal to PyTensor's outputs bit for bit at many
    random points, with PyTensor's dtypes and shapes."""
    pi, log_s, v = pt.dscalar("pi"), pt.dscalar("log_s"), pt.dvector("v")
    outputs = [pt.log(pt.stack([1.0 - pi, pi])), pt.exp(log_s) * 2.5 - v / 3.0, pi,
               pt.sqrt(v + pt.exp(log_s)) ** 2]
    function = compiled([pi, log_s, v], outputs)
    program = NumpyProgram.of(function, np.asarray(0.3), np.asarray(-1.0), np.ones(4))
    assert program is not None
    rng = np.random.default_rng(0)
    for _ in range(50):
        args = (np.asarray(rng.uniform(0.001, 0.999)), np.asarray(rng.normal()),
                rng.uniform(0, 3, 4))
        for want, got in zip(function(*args), program(*args)):
            assert got.dtype == np.asarray(want).dtype and got.shape == np.shape(want)
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("make", [
    lambda x: pt.dot(x, x),                      # not elementwise
    lambda x: pt.sigmoid(x),                     # a scipy function, not numpy's
    lambda x: pt.cumsum(x),
])
def test_other_ops_are_left_to_pytensor(make):
    x = pt.dvector("x")
    function = compiled([x], [make(x)])
    assert NumpyProgram.of(function, np.arange(3.0)) is None


def test_a_program_that_would_differ_is_refused(monkeypatch):
    """The program is checked against the function at the example inputs: a numpy function
    that gave other values (here: log replaced by log1p) is not used."""
    x = pt.dvector("x")
    function = compiled([x], [pt.log(x)])
    monkeypatch.setattr(np, "log", np.log1p)
    assert NumpyProgram.of(function, np.array([0.5, 2.0])) is None


def test_a_variadic_product_is_left_to_pytensor():
    """PyTensor's Mul takes any number of inputs, numpy's multiply two (a third would be
    its ``out``, overwritten): a product of three in one node is not a numpy call, and the
    inputs are left as they were."""
    a, b, c = pt.dvector("a"), pt.dvector("b"), pt.dvector("c")
    function = compiled([a, b, c], [a * b * c])
    assert any(len(node.inputs) == 3 for node in function.maker.fgraph.toposort())
    values = [np.arange(1.0, 4.0), np.arange(2.0, 5.0), np.arange(3.0, 6.0)]
    assert NumpyProgram.of(function, *values) is None
    np.testing.assert_array_equal(values[2], [3.0, 4.0, 5.0])
