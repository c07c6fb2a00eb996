"""Generic fused log-likelihood + gradient PyTensor Op over a numba kernel.

A likelihood with a few parameters and large data (MiXeR, ...) is one kernel pass that returns
``(logp, grad)``. :class:`FusedLogpGradOp` wraps such a kernel:

- inputs: ``theta`` (float64 vector of parameters), then the data arrays (disconnected: no
  gradient flows to data); outputs: ``logp`` (scalar) and ``grad`` (vector, d logp/d theta);
- ``pullback`` reuses the ``grad`` output, so logp and gradient cost one pass;
- ``perform`` calls the kernel (C / Python linkers); the numba linker inlines the same kernel
  through :func:`register_numba_kernel`, with a cache key that hashes the kernel modules'
  source, so an edited kernel is never served stale from pytensor's cache.

A subclass declares ``__props__`` (its scalar settings, including ``with_grad``),
``data_dtypes`` (dtype of each data input, in order) and implements :meth:`kernel` returning
an ``njit`` function ``f(theta, *data) -> (logp, grad)`` with the settings bound. When a
compiled graph uses only ``logp`` (e.g. Nelder-Mead, logp-only evaluation), the rewrite
:func:`fused_to_logp_only` swaps in the same Op with ``with_grad=False``, whose kernel may skip
the gradient work (the grad output is then zeros and unused).
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.abc
import inspect
import sys
from pathlib import Path

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_type, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.tensor.rewriting.basic import register_specialize


class FusedLogpGradOp(Op):
    """``(theta, *data) -> (logp, grad)`` from one numba kernel pass; see the module docstring."""

    __props__: tuple = ()
    data_dtypes: tuple = ()
    with_grad: bool = True

    def without_grad(self) -> "FusedLogpGradOp":
        """The same Op computing logp only (override when the kernel can skip the gradient)."""
        return self

    def kernel(self):
        """The ``njit`` function ``f(theta, *data) -> (logp, grad)`` with settings bound."""
        raise NotImplementedError

    def make_node(self, theta, *data):
        theta = pt.as_tensor_variable(theta).astype("float64")
        if theta.ndim != 1:
            raise TypeError(f"{type(self).__name__}: theta must be a vector, got ndim={theta.ndim}")
        if len(data) != len(self.data_dtypes):
            raise TypeError(f"{type(self).__name__} takes {len(self.data_dtypes)} data arrays, "
                            f"got {len(data)}")
        data = [pt.as_tensor_variable(x).astype(dtype) for x, dtype in zip(data, self.data_dtypes)]
        for x in data:
            if x.ndim != 1:
                raise TypeError(f"{type(self).__name__}: data arrays must be vectors")
        return Apply(self, [theta, *data], [pt.dscalar(), pt.dvector()])

    def perform(self, node, inputs, output_storage):
        logp, grad = self.kernel()(*inputs)
        output_storage[0][0] = np.asarray(logp, dtype=np.float64)
        output_storage[1][0] = np.asarray(grad, dtype=np.float64)

    def infer_shape(self, node, shapes):
        return [(), shapes[0]]

    def connection_pattern(self, node):
        return [[True, True]] + [[False, False] for _ in node.inputs[1:]]

    def pullback(self, inputs, outputs, cotangents):
        theta = inputs[0]
        if not isinstance(cotangents[1].type, DisconnectedType):
            theta_grad = grad_not_implemented(self, 0, theta,
                                              "second derivatives of a fused likelihood")
        else:
            theta_grad = cotangents[0] * outputs[1]
        return [theta_grad] + [disconnected_type() for _ in inputs[1:]]


@register_specialize
@node_rewriter([FusedLogpGradOp])
def fused_to_logp_only(fgraph, node):
    """Replace a fused Op whose gradient output has no client by its logp-only version."""
    if not isinstance(node.op, FusedLogpGradOp) or not node.op.with_grad:
        return None
    if fgraph.clients.get(node.outputs[1]):
        return None
    lighter = node.op.without_grad()
    if lighter is node.op:
        return None
    return {node.outputs[0]: lighter(*node.inputs)[0]}


#: the package whose modules' sources key kernel Ops' compiled graphs (the kernels and what
#: they import from it)
KERNEL_PACKAGE = "bayesmix.kernels"


def imported_kernel_modules(*modules) -> list:
    """``modules`` and every :data:`KERNEL_PACKAGE` module they import, directly or through
    each other (module-level ``import`` / ``from ... import`` statements, read from the
    source), sorted by name: what a numba kernel of those modules may inline."""
    found, queue = {}, list(modules)
    while queue:
        module = queue.pop(0)
        if module.__name__ in found:
            continue
        found[module.__name__] = module
        for node in ast.parse(_source(module)).body:
            if isinstance(node, ast.Import):
                queue += [importlib.import_module(alias.name) for alias in node.names
                          if _in_kernel_package(alias.name)]
            elif isinstance(node, ast.ImportFrom) and _in_kernel_package(node.module):
                parent = importlib.import_module(node.module)
                queue.append(parent)
                queue += [value for alias in node.names
                          if inspect.ismodule(value := getattr(parent, alias.name, None))
                          and _in_kernel_package(value.__name__)]
    return [found[name] for name in sorted(found)]


def _in_kernel_package(name) -> bool:
    return bool(name) and (name == KERNEL_PACKAGE or name.startswith(KERNEL_PACKAGE + "."))


def _source(module) -> str:
    return Path(module.__file__).read_text(encoding="utf-8")


def source_hash(*modules) -> str:
    """sha256 of the source of ``modules`` and of the kernel modules they import
    (:func:`imported_kernel_modules`): part of numba cache keys of kernel Ops, so editing a
    shared helper (e.g. ``kernels.random``) invalidates every graph that inlines it."""
    h = hashlib.sha256()
    for module in imported_kernel_modules(*modules):
        h.update(module.__name__.encode())
        h.update(_source(module).encode())
    return h.hexdigest()


#: pytensor's numba dispatch module; importing it costs 0.25 s, and only pytensor's numba
#: linker needs it (the Gibbs steps and MiXeR fits compile with Python / VM linkers)
NUMBA_DISPATCH = "pytensor.link.numba.dispatch.basic"
#: (op class, kernel modules) waiting for NUMBA_DISPATCH to be imported
_pending: list = []


def register_numba_kernel(op_class, *modules):
    """Let pytensor's numba linker inline ``op.kernel()`` for ``op_class``.

    The cache key combines the class name, the Op's props and a hash of the sources of
    ``op_class``'s module, ``modules`` (its kernel modules) and every kernel module they import
    (:func:`source_hash`), so editing a kernel or a helper it inlines invalidates the compiled
    graph cache. The registration is made as soon as pytensor's numba dispatch is imported
    (now, if it is), before anything can compile with it.
    """
    _pending.append((op_class, modules))
    if NUMBA_DISPATCH in sys.modules:
        _register_pending()
    else:
        _RegisterOnImport.install()
    return op_class


def _register_pending() -> None:
    from pytensor.link.numba.dispatch.basic import register_funcify_and_cache_key

    while _pending:
        op_class, modules = _pending.pop(0)
        digest = source_hash(inspect.getmodule(op_class), *modules)
        register_funcify_and_cache_key(op_class)(_numba_funcify(op_class, digest))


def _numba_funcify(op_class, digest):
    def funcify(op, node=None, **kwargs):
        kernel = op.kernel()
        import numba

        @numba.njit
        def call(theta, *data):
            logp, grad = kernel(theta, *data)
            return np.asarray(logp), grad

        key = f"{op_class.__name__}-{op._props()!r}-{digest}"
        return call, key

    return funcify


class _RegisterOnImport(importlib.abc.MetaPathFinder):
    """Import hook: loads :data:`NUMBA_DISPATCH` as usual, then registers the pending
    kernels (:func:`_register_pending`) and removes itself."""

    @classmethod
    def install(cls) -> None:
        if not any(isinstance(finder, cls) for finder in sys.meta_path):
            sys.meta_path.insert(0, cls())

    def find_spec(self, name, path, target=None):
        if name != NUMBA_DISPATCH:
            return None
        for finder in sys.meta_path:
            spec = (None if finder is self or not hasattr(finder, "find_spec")
                    else finder.find_spec(name, path, target))
            if spec is not None:
                spec.loader = _ThenRegister(spec.loader)
                return spec
        return None


class _ThenRegister(importlib.abc.Loader):
    """A module loader that runs :func:`_register_pending` after loading the module."""

    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # get_source, get_code ... of the real loader
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _RegisterOnImport)]
        _register_pending()
