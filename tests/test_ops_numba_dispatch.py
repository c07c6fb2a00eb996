"""Our fused Ops reach pytensor's numba linker although its dispatch module (0.25 s to
import) is only loaded when something compiles with it (bayesmix.ops.fused's import hook)."""

import subprocess
import sys

_SCRIPT = """
import sys
import numpy as np
import pytensor
import pytensor.tensor as pt

from bayesmix.models.mixer import UnivariateLikelihood, simulate_z_from_model
from bayesmix.ops.mixer import univariate_loglik
from bayesmix.prepare.mixer_data import MixerData

assert "pytensor.link.numba.dispatch.basic" not in sys.modules, "loaded by importing the Ops"
rng = np.random.default_rng(0)
data, r = MixerData.synthetic(300, block_size=50, n=1e5, rng=rng)
z, _ = simulate_z_from_model(data, r, (0.05, 1e-4, 1.0), rng=rng)
like = UnivariateLikelihood(data.with_z(z), "fast")
theta = pt.dvector("theta")
logp = univariate_loglik(like, theta)
point = np.array([0.05, 1e-4, 1.05])
by_numba = pytensor.function([theta], logp, mode="NUMBA")
from pytensor.link.numba.dispatch.basic import numba_funcify
from bayesmix.ops.mixer import UnivariateMixerLogp
assert numba_funcify.dispatch(UnivariateMixerLogp) is not numba_funcify.dispatch(object)
by_python = pytensor.function([theta], logp, mode="FAST_COMPILE")
assert abs(float(by_numba(point)) - float(by_python(point))) <= 1e-9 * abs(float(by_python(point)))
print("ok")
"""


def test_kernels_are_registered_when_the_numba_dispatch_is_imported():
    """In a fresh interpreter: importing the Ops does not load the numba dispatch; compiling
    a graph with the numba linker loads it, with our kernel registered (not the object-mode
    fallback), and gives the Python linker's value."""
    done = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", _SCRIPT],
                          capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def _kernel_modules_referenced(modules):
    """Every bayesmix.kernels module reachable from ``modules`` through their globals at run
    time (modules, and functions or numba dispatchers by their ``__module__``): an
    independent view of what their kernels can inline."""
    import inspect

    seen, queue = set(), list(modules)
    while queue:
        module = queue.pop()
        if module.__name__ in seen:
            continue
        seen.add(module.__name__)
        for value in vars(module).values():
            name = (value.__name__ if inspect.ismodule(value)
                    else getattr(value, "__module__", None) if callable(value) else None)
            if isinstance(name, str) and name.startswith("bayesmix.kernels"):
                queue.append(sys.modules[name])
    return seen


def test_kernel_cache_key_covers_every_kernel_module_inlined(monkeypatch):
    """The numba cache key of each fused Op hashes its kernel module and every kernel module
    that one uses (found at run time from the modules' globals), so an edited helper such as
    ``kernels.random`` or ``kernels.vector_math`` is never served from a stale graph."""
    import bayesmix.ops.fused as fused
    from bayesmix.ops import mixer, mixer_bivariate, sbayes, sbayes_eigen

    for op_module in (mixer, mixer_bivariate, sbayes, sbayes_eigen):
        hashed = {m.__name__ for m in fused.imported_kernel_modules(op_module,
                                                                    op_module.kernels)}
        assert _kernel_modules_referenced([op_module.kernels]) <= hashed, op_module.__name__

    before = fused.source_hash(mixer, mixer.kernels)
    real_source = fused._source
    monkeypatch.setattr(fused, "_source", lambda module: real_source(module) + (
        "\n# edited\n" if module.__name__ == "bayesmix.kernels.vector_math" else ""))
    assert fused.source_hash(mixer, mixer.kernels) != before
