"""Small helpers around PyMC/PyTensor graphs: reading prior hyperparameters back from a
graph, the mode of the Gibbs steps' small graphs, and log densities that do not keep their
model alive."""

from __future__ import annotations

import weakref
from functools import partial

import numpy as np
from pytensor.graph.basic import Constant
from pytensor.graph.traversal import ancestors


def model_initial_point(model) -> dict:
    """``model.initial_point()`` (each free variable's initial value in its value space:
    its ``initval``, else its support point, transformed), with the expressions evaluated op
    by op (:func:`evaluation_mode`) instead of compiled with PyMC's rewrites for the one
    evaluation: 0.15-0.2 s less of every sampler's start-up."""
    import pytensor
    from pymc.initial_point import make_initial_point_expression

    values = make_initial_point_expression(
        free_rvs=model.free_RVs, rvs_to_transforms=model.rvs_to_transforms,
        initval_strategies=model.rvs_to_initial_values, return_transformed=True)
    evaluated = pytensor.function([], values, mode=evaluation_mode())() if values else []
    return {model.rvs_to_values[rv].name: np.asarray(value)
            for rv, value in zip(model.free_RVs, evaluated)}


def constant_value(var):
    """The numpy value of ``var`` if it depends on no random or free input, else None.

    Constants are returned directly; small constant sub-graphs (casts, ``nu * s2 / 2`` ...)
    are evaluated op by op (:func:`evaluation_mode`: no rewrites, no compilation; 1 ms where
    the default mode took 30 ms, paid for every prior parameter of every model built).
    """
    if isinstance(var, Constant):
        return np.asarray(var.data)
    if var.owner is None:
        return None
    if any(a.owner is None and not isinstance(a, Constant) for a in ancestors([var])):
        return None
    try:
        return np.asarray(var.eval(mode=evaluation_mode()))
    except Exception:  # noqa: BLE001 - anything not evaluable is simply "not constant"
        return None


def evaluation_mode():
    """PyTensor mode that runs each op's Python ``perform`` as the graph is (no rewrites), for
    graphs evaluated once or twice: tiny constant graphs, the conjugacy checks of
    :mod:`bayesmix.inference.conjugacy`. Compiling with rewrites costs tens of milliseconds
    per graph, more than such an evaluation saves (:func:`small_graph_mode` is for the
    per-iteration functions)."""
    from pytensor.compile.mode import Mode

    return Mode(linker="py", optimizer=None)


class NumpyProgram:
    """A compiled PyTensor function of a small graph run as a list of numpy calls.

    The Python linker runs each node through its op's ``perform`` with PyTensor's checks and
    storage cells (a few microseconds per node, ~15 us per node right after a sweep has
    flushed the caches: the derived hyperparameters of a BayesC iteration cost 45 us for
    three nodes). Here each node is one numpy call on the values of its inputs. Only
    elementwise ops whose scalar op names a numpy function, ``MakeVector``, ``DeepCopyOp``
    and DimShuffles that add or drop length-1 axes are taken (:meth:`of` returns None for
    any other graph); the outputs are the function's, as numpy arrays of its output types.
    """

    def __init__(self, inputs: int, values: list, program: list, outputs: list, dtypes: list):
        self._inputs, self._values, self._program = inputs, values, program
        self._outputs, self._dtypes = outputs, dtypes

    @classmethod
    def of(cls, function, *example_inputs) -> "NumpyProgram | None":
        """The program of ``function`` (compiled with ``pytensor.function``/``compile_fn``),
        or None when its graph has another op or when, at ``example_inputs``, its outputs are
        not exactly the function's (same dtypes, shapes and values)."""
        from pytensor.compile.ops import DeepCopyOp
        from pytensor.tensor.basic import MakeVector
        from pytensor.tensor.elemwise import DimShuffle, Elemwise

        fgraph = function.maker.fgraph
        slot = {var: k for k, var in enumerate(fgraph.inputs)}
        values = [None] * len(fgraph.inputs)
        program = []

        def slot_of(var):
            if var not in slot:
                if not isinstance(var, Constant):
                    raise KeyError(var)
                slot[var] = len(values)
                values.append(np.asarray(var.data))
            return slot[var]

        for node in fgraph.toposort():
            op, (out,) = node.op, node.outputs
            if isinstance(op, Elemwise):
                name, n_in, n_out = getattr(op.scalar_op, "nfunc_spec", None) or ("", 0, 0)
                ufunc = getattr(np, name, None) if name and "." not in name else None
                # (a variadic op such as Mul(a, b, c) would pass c as numpy's ``out``)
                if ufunc is None or n_out != 1 or n_in != len(node.inputs):
                    return None
            elif isinstance(op, MakeVector):
                ufunc = _make_vector
            elif isinstance(op, DimShuffle) and _keeps_order(op.new_order):
                ufunc = partial(_reshaped, order=tuple(op.new_order))
            elif isinstance(op, DeepCopyOp):
                ufunc = np.array
            else:
                return None
            ins = [slot_of(v) for v in node.inputs]
            slot[out] = len(values)
            values.append(None)
            program.append((ufunc, ins, slot[out], out.dtype))
        try:
            outputs = [slot_of(v) for v in fgraph.outputs]
        except KeyError:
            return None
        made = cls(len(fgraph.inputs), values, program, outputs,
                   [v.dtype for v in fgraph.outputs])
        expected = function(*example_inputs)
        try:
            got = made(*example_inputs)
        except (ValueError, TypeError):  # a numpy function that does not take these inputs
            return None
        if not all(np.asarray(e).dtype == g.dtype and np.shape(e) == g.shape
                   and np.array_equal(e, g, equal_nan=True) for e, g in zip(expected, got)):
            return None
        return made

    def __call__(self, *inputs) -> list:
        values = list(self._values)
        values[:self._inputs] = inputs
        with np.errstate(all="ignore"):  # nan/inf without a warning, as PyTensor's Elemwise
            for ufunc, ins, out, dtype in self._program:
                values[out] = np.asarray(ufunc(*[values[k] for k in ins]), dtype=dtype)
        return [np.asarray(values[k], dtype=d) for k, d in zip(self._outputs, self._dtypes)]


def _make_vector(*scalars):
    return np.array(scalars)


def _keeps_order(new_order) -> bool:
    """A DimShuffle that only adds or drops length-1 axes (no transposition)."""
    kept = [d for d in new_order if d != "x"]
    return kept == sorted(kept)


def _reshaped(x, order):
    """A DimShuffle of :func:`_keeps_order` as a reshape."""
    x = np.asarray(x)
    return x.reshape([1 if d == "x" else x.shape[d] for d in order])


def small_graph_mode():
    """PyTensor mode for the small per-iteration graphs of the Gibbs steps.

    Python linker with the usual rewrites except elementwise fusion (a fused Composite runs
    scalar by scalar in Python; unfused, every elementwise op is one numpy ufunc call): no
    numba/C compilation, which costs seconds per graph on first use.
    """
    from pytensor.compile.mode import Mode

    return Mode(linker="py", optimizer="fast_run").excluding("fusion")


class WeakLogp:
    """The log density of a ``pm.CustomDist`` as a method of an object held weakly:
    ``pm.CustomDist(..., logp=WeakLogp(self.likelihood_logp))``.

    PyMC registers each CustomDist's log density in its global dispatch tables for good, so
    a lambda closing over a model keeps the model, and the LD it holds, alive after the
    model is gone (each short chain of the eigen cut-off tuning kept its copy of the
    eigenvectors: 1 GB at 1.1M SNPs). The object must be alive when the log density is
    built, which it is while its model is used. Pickled (a model shipped to a Dask worker)
    it travels with the object."""

    def __init__(self, method):
        self._method = weakref.WeakMethod(method)

    def __call__(self, *args):
        method = self._method()
        if method is None:
            raise RuntimeError("the log density's model no longer exists: build the model "
                               "again")
        return method(*args)

    def __reduce__(self):
        return WeakLogp, (self._method(),)
