"""netCDF groups written by bayesmix.io.netcdf read back as xarray's own writer's file of the
same data does, and hold the HDF5 objects and attributes h5netcdf writes for them; an MCMC
result's file equals its DataTree."""

import numpy as np
import xarray as xr

import pytest

from bayesmix.io.netcdf import Group, tree_groups, write_groups, write_netcdf


def _random_groups(rng) -> dict:
    n_chain, n_draw, n_snp = 2, int(rng.integers(1, 6)), int(rng.integers(1, 9))
    draws = rng.normal(size=(n_chain, n_draw))
    draws[rng.random(draws.shape) < 0.2] = np.nan
    attrs = {"created_at": "2026-12-04T00:00:00", "sample_dims": ["chain", "draw"],
             "n": int(rng.integers(0, 100)), "share": float(rng.random()), "note": "a b"}
    return {
        "posterior": Group({"hsq": (("chain", "draw"), draws),
                            "alpha": (("chain", "draw", "covariate"),
                                      rng.normal(size=(n_chain, n_draw, 2)))},
                           {"chain": np.arange(n_chain), "draw": np.arange(n_draw),
                            "covariate": np.array(["intercept", "âge"])}, attrs),
        "sample_stats": Group({"iteration": (("chain", "draw"),
                                             rng.integers(0, 9, (n_chain, n_draw)))},
                              {"chain": np.arange(n_chain), "draw": np.arange(n_draw)}),
        "deep/snp_summary": Group({"pip": (("snp",), rng.random(n_snp)),
                                   "comp_prob": (("snp", "component"), rng.random((n_snp, 3))),
                                   "names": (("snp",), np.array([f"rs{i}" * (i + 1)
                                                                 for i in range(n_snp)]))},
                                  {"snp": np.array([f"s{i}" for i in range(n_snp)])},
                                  {"method": "BayesR"}),
    }


def test_written_groups_read_back_as_xarrays_own_writer(tmp_path):
    """Random groups (nested path, NaN, int64, unicode strings as coordinates and data, list /
    int / float / str attributes, a dimension without coordinates): ``xr.open_datatree`` of
    our file is identical (values, dtypes, coordinates, attributes) to that of the file
    xarray writes from the same data."""
    rng = np.random.default_rng(4)
    for trial in range(5):
        groups = _random_groups(rng)
        write_groups(tmp_path / f"ours{trial}.nc", groups)
        xr.DataTree.from_dict({
            name: xr.Dataset(g.data_vars, coords=g.coords, attrs=g.attrs)
            for name, g in groups.items()}).to_netcdf(tmp_path / f"xr{trial}.nc",
                                                      engine="h5netcdf")
        ours = xr.open_datatree(tmp_path / f"ours{trial}.nc")
        reference = xr.open_datatree(tmp_path / f"xr{trial}.nc")
        xr.testing.assert_identical(ours, reference)
        for node in reference.subtree:
            assert ours[node.path].attrs == node.attrs, node.path


def _h5netcdf_file(path, groups: dict) -> None:
    """The reference: ``groups`` written through h5netcdf's netCDF-4 API."""
    import h5netcdf

    from bayesmix.io.netcdf import _h5_data

    with h5netcdf.File(path, "w") as f:
        for name, group in groups.items():
            node = f if name.strip("/") == "" else f.create_group(name.strip("/"))
            sizes = {dim: len(values) for dim, values in group.coords.items()}
            for dims, values in group.data_vars.values():
                sizes.update(zip(dims, np.shape(values)))
            node.dimensions = sizes
            coords = [(dim, ((dim,), values)) for dim, values in group.coords.items()]
            for var, (dims, values) in [*coords, *group.data_vars.items()]:
                data, dtype, attrs = _h5_data(values)
                node.create_variable(var, tuple(dims), data=data, dtype=dtype).attrs.update(attrs)
            node.attrs.update(group.attrs)


def _hdf5_layout(path) -> dict:
    """Every group and dataset of an HDF5 file: kind, dtype, shape, fill value, values, and
    attributes (dimension-scale references as the paths they point to; of ``_NCProperties``
    only its type and format version)."""
    import h5py

    def attributes(obj):
        out = {}
        for key, value in obj.attrs.items():
            if key == "DIMENSION_LIST":
                value = [[obj.file[ref].name for ref in refs] for refs in value]
            elif key == "REFERENCE_LIST":
                value = sorted((obj.file[ref].name, int(axis)) for ref, axis in value)
            elif key == "_NCProperties":  # the writer's name and versions differ
                value = (type(value).__name__, bytes(value).startswith(b"version=2,"))
            else:
                value = (type(value).__name__, np.asarray(value).dtype.str,
                         np.asarray(value).tolist())
            out[key] = value
        return out

    layout = {}
    with h5py.File(path) as f:
        layout["/"] = ("group", sorted(attributes(f).items()))

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                string = h5py.check_string_dtype(obj.dtype)
                layout[name] = ("dataset", str(string) if string else obj.dtype.str, obj.shape,
                                obj.maxshape, obj.chunks, None if string else obj.fillvalue,
                                obj.asstr()[()].tolist() if string
                                else np.asarray(obj[()]).tobytes(),  # NaN equal to NaN
                                sorted(attributes(obj).items()))
            else:
                layout[name] = ("group", sorted(attributes(obj).items()))

        f.visititems(visit)
    return layout


def test_the_files_hold_what_h5netcdf_writes_for_the_same_groups(tmp_path):
    """Random groups and MiXeR-like trees: the same HDF5 groups, datasets (dtypes, shapes,
    values) and attributes as h5netcdf's file of the same data, netCDF-4's own ones included
    (dimension numbers, coordinate lists, dimension-scale names and references), so that
    what reads h5netcdf's files (netCDF-C among them) reads these."""
    rng = np.random.default_rng(9)
    for trial in range(4):
        for groups in (_random_groups(rng), tree_groups(_random_tree(rng))):
            if "deep/snp_summary" in groups:  # h5netcdf makes the parent group first
                groups = {"deep": Group({}), **groups}
            write_groups(tmp_path / "ours.nc", groups)
            _h5netcdf_file(tmp_path / "reference.nc", groups)
            ours, reference = (_hdf5_layout(tmp_path / f"{name}.nc")
                               for name in ("ours", "reference"))
            assert ours.keys() == reference.keys()
            for name in reference:
                assert ours[name] == reference[name], name


def test_mcmc_result_file_equals_its_datatree(tmp_path):
    """A BayesR run's .nc (written from its groups) reads back equal to ``to_datatree()``
    (the creation time aside: two calls)."""
    from bayesmix.inference.chain import ChainSettings, run_chains
    from bayesmix.inference.gibbs import make_steps
    from bayesmix.models.alphabet import AlphabetModel
    from bayesmix.prepare.alphabet_data import AlphabetData

    rng = np.random.default_rng(2)
    dosages = rng.binomial(2, 0.3, size=(120, 15)).astype(float)
    y = dosages[:, 0] * 0.5 + rng.standard_normal(120)
    model = AlphabetModel(AlphabetData.from_arrays(dosages, y), "R")
    result = run_chains(model, make_steps,
                        ChainSettings(chain_length=30, burn_in=10, thin=2, seed=1, out_freq=0),
                        chains=2)
    result.to_netcdf(tmp_path / "run.nc")
    written = xr.open_datatree(tmp_path / "run.nc")
    built = result.to_datatree()
    for tree in (written, built):
        for node in tree.subtree:
            node.attrs.pop("created_at", None)
    xr.testing.assert_identical(written, built)
    assert written["posterior"]["hsq"].shape == (2, 10)


def _random_tree(rng) -> xr.DataTree:
    """A DataTree as the MiXeR fits build them: root attributes, scalar and boolean
    variables, an empty parent of nested groups, unicode coordinates."""
    n_eval, n_par = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    steps = {f"optimize/step_{i}": xr.Dataset(
        {"params": ("step_parameter", rng.normal(size=n_par)),
         "trace": (("evaluation", "trace_column"), rng.normal(size=(n_eval, n_par + 1)))},
        coords={"step_parameter": [f"p{j}é" for j in range(n_par)]},
        attrs={"name": f"step {i}", "n_evals": int(rng.integers(1, 50)),
               "loglik": float(rng.normal())}) for i in range(int(rng.integers(1, 4)))}
    return xr.DataTree.from_dict({
        "/": xr.Dataset(attrs={"analysis": "univariate", "n_tags": int(rng.integers(1, 9)),
                               "options": '{"a": [1, 2]}'}),
        "fit": xr.Dataset({"pi": float(rng.random()), "loglik": float(rng.normal())}),
        "sample_stats": xr.Dataset(
            {"diverging": (("chain", "draw"), rng.random((2, n_eval)) < 0.3),
             "tree_depth": (("chain", "draw"), rng.integers(0, 9, (2, n_eval)))},
            coords={"chain": [0, 1], "draw": np.arange(n_eval)}),
        **steps})


def test_a_datatree_reads_back_as_xarrays_own_writer_wrote_it(tmp_path):
    """write_netcdf (through tree_groups and write_groups) against xarray's own writer on
    random trees: identical on reading, attributes of every group included."""
    rng = np.random.default_rng(7)
    for trial in range(5):
        tree = _random_tree(rng)
        write_netcdf(tree, tmp_path / f"ours{trial}.nc")
        tree.to_netcdf(tmp_path / f"xr{trial}.nc", engine="h5netcdf")
        ours = xr.open_datatree(tmp_path / f"ours{trial}.nc")
        reference = xr.open_datatree(tmp_path / f"xr{trial}.nc")
        xr.testing.assert_identical(ours, reference)
        assert ours["sample_stats"]["diverging"].dtype == bool
        for node in reference.subtree:
            assert ours[node.path].attrs == node.attrs, node.path


def test_what_a_group_cannot_hold_is_refused():
    """A non-dimension coordinate or a variable's attributes would not survive the round
    trip: refused by name instead of written differently."""
    scalar_coord = xr.DataTree.from_dict({"fit": xr.Dataset({"pi": ("x", [1.0])},
                                                            coords={"x": [0], "label": "a"})})
    with pytest.raises(ValueError, match="coordinate 'label'"):
        tree_groups(scalar_coord)
    with_attrs = xr.DataTree.from_dict({"fit": xr.Dataset(
        {"pi": xr.Variable((), 0.1, attrs={"units": "share"})})})
    with pytest.raises(ValueError, match="variable 'pi' has attributes"):
        tree_groups(with_attrs)
