"""Groups of in-memory arrays written as netCDF-4 with h5netcdf, read back by xarray and ArviZ
as a DataTree (``xarray.open_datatree``).

xarray's own writer needs xarray objects, and building one imports dask.array (and the writer
dask.distributed) whenever dask is installed: 0.55 s of every MCMC command's start-up for a
file of a few arrays. A :class:`Group` is the plain description such a file needs; the caller
may build its xarray view from the same description, so the two cannot drift apart
(tests/test_io_netcdf.py reads a written file back against xarray's own writer). Trees built
with xarray (the MiXeR fits) are written by :func:`write_netcdf` through :func:`tree_groups`.
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
    """(data, dtype, attributes) as h5netcdf stores it: strings as variable-length UTF-8,
    booleans as int8 with the ``dtype`` attribute xarray decodes them by."""
    import h5py

    values = np.asarray(values)
    if values.dtype.kind in "OU":
        return values.astype(str).astype(object), h5py.string_dtype(), {}
    if values.dtype.kind == "b":
        return values.astype(np.int8), np.dtype(np.int8), {"dtype": "bool"}
    return values, values.dtype, {}


def _create(node, name: str, dims: tuple, values) -> None:
    data, dtype, attrs = _h5_data(values)
    variable = node.create_variable(name, dims, data=data, dtype=dtype)
    variable.attrs.update(attrs)


def write_groups(path, groups: dict[str, Group]) -> None:
    """Write ``groups`` (group path, e.g. ``"posterior"`` -> :class:`Group`) to ``path``
    atomically."""
    import h5netcdf

    with atomic_path(path) as tmp, h5netcdf.File(tmp, "w") as f:
        for name, group in groups.items():
            node = f if name.strip("/") == "" else f.create_group(name.strip("/"))
            sizes = {dim: len(values) for dim, values in group.coords.items()}
            for dims, values in group.data_vars.values():
                sizes.update(zip(dims, np.shape(values)))
            node.dimensions = sizes
            for dim, values in group.coords.items():
                _create(node, dim, (dim,), values)
            for var, (dims, values) in group.data_vars.items():
                _create(node, var, tuple(dims), values)
            node.attrs.update(group.attrs)


def tree_groups(tree) -> dict[str, Group]:
    """The groups of an ``xarray.DataTree`` (per node its own variables, dimension
    coordinates and attributes; ``"/"`` the root), for :func:`write_groups`. Refuses what a
    :class:`Group` cannot hold (a coordinate that is not a dimension's, attributes of a
    variable), rather than write a file that reads back differently."""
    groups = {}
    for node in tree.subtree:
        data = node.to_dataset(inherit=False)
        for name, variable in data.variables.items():
            if name in data.coords and variable.dims != (name,):
                raise ValueError(f"{node.path}: coordinate {name!r} is not a dimension's")
            if variable.attrs:
                raise ValueError(f"{node.path}: variable {name!r} has attributes")
        groups[node.path] = Group(
            {name: (v.dims, v.values) for name, v in data.data_vars.items()},
            {name: c.values for name, c in data.coords.items()}, dict(data.attrs))
    return groups


def write_netcdf(tree, path) -> None:
    """Write an xarray DataTree to netCDF-4 (h5netcdf) atomically, through
    :func:`write_groups` (xarray's own writer imports dask.distributed when dask is
    installed: ~0.3 s of a MiXeR command for a file of a few arrays)."""
    write_groups(path, tree_groups(tree))
