"""netCDF groups written with h5netcdf (bayesmix.io.netcdf) read back as xarray's own writer's
file of the same data does; an MCMC result's file equals its DataTree."""

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
