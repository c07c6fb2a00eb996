"""Groups of in-memory arrays written as netCDF-4 with h5netcdf, read back by xarray and ArviZ
as a DataTree (``xarray.open_datatree``).

xarray's own writer needs xarray objects, and building one imports dask.array (and the writer
dask.distributed) whenever dask is installed: 0.55 s of every MCMC command's start-up for a
file of a few arrays. A :class:`Group` is the plain description such a file needs; the caller
may build its xarray view from the same description, so the two cannot drift apart
(tests/test_io_netcdf.py reads a written file back against xarray's own writer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bayesmix.io.files import atomic_path


@dataclass
class Group:
    """One group of the file.

    data_vars : name -> (dimension names, array).
    coords : dimension name -> 1-D array of its coordinate values.
    attrs : str, int, float or list of str values.
    """

    data_vars: dict
    coords: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)


def _h5_data(values: np.ndarray):
    """(data, dtype) as h5netcdf stores it: strings as variable-length UTF-8."""
    import h5py

    values = np.asarray(values)
    if values.dtype.kind in "OU":
        return values.astype(str).astype(object), h5py.string_dtype()
    return values, values.dtype


def write_groups(path, groups: dict[str, Group]) -> None:
    """Write ``groups`` (group path, e.g. ``"posterior"`` -> :class:`Group`) to ``path``
    atomically."""
    import h5netcdf

    with atomic_path(path) as tmp, h5netcdf.File(tmp, "w") as f:
        for name, group in groups.items():
            node = f.create_group(name)
            sizes = {dim: len(values) for dim, values in group.coords.items()}
            for dims, values in group.data_vars.values():
                sizes.update(zip(dims, np.shape(values)))
            node.dimensions = sizes
            for dim, values in group.coords.items():
                data, dtype = _h5_data(values)
                node.create_variable(dim, (dim,), data=data, dtype=dtype)
            for var, (dims, values) in group.data_vars.items():
                data, dtype = _h5_data(values)
                node.create_variable(var, tuple(dims), data=data, dtype=dtype)
            node.attrs.update(group.attrs)
