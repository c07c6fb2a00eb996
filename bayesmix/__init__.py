"""bayesmix: Bayesian mixture models of complex-trait genetic architecture.

One package for MiXeR-style causal mixture models of GWAS z-scores and the GCTB Bayesian
alphabet (BayesB/C/S/N/NS/R, SBayesC/R/S). See ``docs/`` and docs/design.md for the map.

Subpackages are imported lazily so that ``import bayesmix`` stays cheap (no numba
compilation, no PyMC import) until a model or kernel is used.
"""

from importlib import metadata as _metadata

from bayesmix.errors import BayesmixError, InputError

try:
    __version__ = _metadata.version("bayesmix")
except _metadata.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["BayesmixError", "InputError", "__version__"]
