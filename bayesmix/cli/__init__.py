"""Command-line front ends: ``bayesmix`` (own subcommands), ``bayesmix-gctb`` (GCTB's flags)
and ``bayesmix-mixer`` (MiXeR's subcommands and flags).

Importing this package (every command does, before numpy) turns off numpy's request for
transparent huge pages on large arrays unless ``NUMPY_MADVISE_HUGEPAGE`` says otherwise. On
kernels that defragment only for such requests (``/sys/kernel/mm/transparent_hugepage/defrag``
= madvise, a common default) the first write to every 2 MB of a fresh array may wait for
memory compaction: measured here, an SBayesC run on 2 x 10,000 SNPs of shrunk LD (a 360 MB
matrix) spent 0.35-1.3 s of system time with it against a steady 0.45 s without; the 4 kB
pages cost the sweeps ~3% more user time (10,000 iterations: 13.3 s of CPU without against
13.8 s with). Python code that imports numpy before bayesmix keeps numpy's choice.
"""

import os

os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
