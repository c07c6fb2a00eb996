"""Groups of in-memory arrays written as netCDF-4 (HDF5 through h5py, in h5netcdf's layout),
read back by xarray and ArviZ as a DataTree (``xarray.open_datatree``).

xarray's own writer needs xarray objects, and building one imports dask.array (and the writer
dask.distributed) whenever dask is installed: 0.55 s of every MCMC command's start-up for a
file of a few arrays. A :class:`Group` is the plain description such a file needs; the caller
may build its xarray view from the same description, so the two cannot drift apart
(tests/test_io_netcdf.py reads a written file back against xarray's own writer, and compares
its HDF5 objects with h5netcdf's file of the same groups). Trees built
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
    """(data, dtype, attributes) as netCDF-4 stores it: strings as variable-length UTF-8,
    booleans as int8 with the ``dtype`` attribute xarray decodes them by."""
    import h5py

    values = np.asarray(values)
    if values.dtype.kind in "OU":
        return values.astype(str).astype(object), h5py.string_dtype(), {}
    if values.dtype.kind == "b":
        return values.astype(np.int8), np.dtype(np.int8), {"dtype": "bool"}
    return values, values.dtype, {}


#: the scale name netCDF-4 gives a dimension without a coordinate variable (its length follows)
NOT_A_VARIABLE = b"This is a netCDF dimension but not a netCDF variable."


def _attribute(value):
    """An attribute as netCDF-4 stores it: a number as a one-element array."""
    if np.isscalar(value) and np.asarray(value).dtype.kind not in "SU":
        return np.atleast_1d(value)
    return value


def write_groups(path, groups: dict[str, Group]) -> None:
    """Write ``groups`` (group path, e.g. ``"posterior"`` -> :class:`Group`) to ``path``
    atomically, as netCDF-4: HDF5 through h5py, with the layout h5netcdf gives the same data
    (tests/test_io_netcdf.py compares them object by object and attribute by attribute).

    Dimensions are HDF5 dimension scales numbered across the file (``_Netcdf4Dimid``): a
    dimension's coordinate variable is its scale, a dimension without one gets netCDF-4's
    placeholder (float32, named :data:`NOT_A_VARIABLE` and its length). A variable lists its
    dimensions' numbers (``_Netcdf4Coordinates``) and carries its first one's. h5netcdf looks
    every dimension up again for each variable it creates (~4 ms per variable: 0.2 s for a
    MiXeR fit's 60 arrays), this writer once (25 ms for the same file).
    """
    import h5py

    with atomic_path(path) as tmp, h5py.File(tmp, "w", track_order=True) as f:
        properties = (f"version=2,bayesmix={_version()},hdf5={h5py.version.hdf5_version},"
                      f"h5py={h5py.__version__}")
        f.attrs["_NCProperties"] = np.array(properties, dtype=h5py.string_dtype(
            encoding="ascii", length=len(properties)))
        dim_ids = 0
        for name, group in groups.items():
            node = f
            for part in name.strip("/").split("/") if name.strip("/") else []:
                node = node[part] if part in node else node.create_group(part, track_order=True)
            sizes = {dim: len(values) for dim, values in group.coords.items()}
            for dims, values in group.data_vars.values():
                sizes.update(zip(dims, np.shape(values)))
            scales, ids = {}, {}
            for dim, size in sizes.items():
                ids[dim] = np.int32(dim_ids)
                dim_ids += 1
                if dim in group.coords:
                    scale = _create(node, dim, group.coords[dim])
                    scale.attrs["_Netcdf4Dimid"] = ids[dim]
                    scale.make_scale(dim)
                    scale.attrs["_Netcdf4Coordinates"] = np.array([ids[dim]], np.int32)
                else:
                    scale = node.create_dataset(dim, shape=(size,), dtype=">f4",
                                                track_order=True)
                    scale.attrs["_Netcdf4Dimid"] = ids[dim]
                    scale.make_scale(NOT_A_VARIABLE + f"{size:10}".encode("ascii"))
                scales[dim] = scale
            for var, (dims, values) in group.data_vars.items():
                variable = _create(node, var, values)
                for axis, dim in enumerate(dims):
                    variable.dims[axis].attach_scale(scales[dim])
                if dims:
                    variable.attrs["_Netcdf4Coordinates"] = np.array([ids[d] for d in dims],
                                                                     np.int32)
                    variable.attrs["_Netcdf4Dimid"] = ids[dims[0]]
            for key, value in group.attrs.items():
                node.attrs[key] = _attribute(value)


def _create(node, name: str, values):
    """A dataset of ``values`` (:func:`_h5_data`'s storage) in ``node``."""
    data, dtype, attrs = _h5_data(values)
    dataset = node.create_dataset(name, data=data, dtype=dtype, track_order=True)
    dataset.attrs.update(attrs)
    return dataset


def _version() -> str:
    from bayesmix import __version__

    return __version__


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
    """Write an xarray DataTree to netCDF-4 atomically, through
    :func:`write_groups` (xarray's own writer imports dask.distributed when dask is
    installed: ~0.3 s of a MiXeR command for a file of a few arrays)."""
    write_groups(path, tree_groups(tree))
