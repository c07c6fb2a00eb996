"""The robust LD check remembered across runs (bayesmix.ld.check_cache): a remembered value is
the one the check computes for exactly that matrix and those settings, any change of either is
computed afresh, and a cache that is off, unwritable or damaged never changes a result."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bayesmix.kernels.ld_spectrum import LANE_P1, LANE_P2, LANES, word_lanes
from bayesmix.ld import check_cache, spectrum
from bayesmix.ld.store import LDMatrix
from tests.test_ld_band import band_ld, csr_and_band
from tests.test_ld_spectrum import random_symmetric_ld

MASK = (1 << 64) - 1
#: the check itself (the fixture below counts the calls made through the cache)
CHECK = spectrum.ld_min_eigenvalue


def word_lanes_reference(words) -> list[int]:
    """word_lanes in Python integers: word k into lane k % 4, acc <- rotl(acc + w P2, 31) P1."""
    acc = list(range(1, LANES + 1))
    for k, w in enumerate(int(x) for x in words):
        x = (acc[k % LANES] + w * int(LANE_P2)) & MASK
        acc[k % LANES] = (((x << 31) | (x >> 33)) & MASK) * int(LANE_P1) & MASK
    return acc


@pytest.mark.parametrize("n", [0, 1, 3, 4, 7, 64, 1001])
def test_word_lanes_match_the_python_reference(n):
    words = np.random.default_rng(n).integers(0, 2**63, n, dtype=np.uint64) * np.uint64(3)
    assert word_lanes(words).tolist() == word_lanes_reference(words)


def test_a_change_of_one_word_changes_its_lane():
    rng = np.random.default_rng(1)
    words = rng.integers(0, 2**63, 4001, dtype=np.uint64)
    before = word_lanes(words)
    for k in rng.choice(len(words), 50, replace=False):
        changed = words.copy()
        changed[k] ^= np.uint64(1) << np.uint64(rng.integers(64))
        after = word_lanes(changed)
        assert after[k % LANES] != before[k % LANES]
        assert np.array_equal(np.delete(after, k % LANES), np.delete(before, k % LANES))


@pytest.fixture
def counted_check(monkeypatch, tmp_path):
    """The cache in a fresh folder, and the number of checks actually computed."""
    monkeypatch.setenv(check_cache.ENVIRONMENT, str(tmp_path / "cache"))
    calls = []

    def counting(ld, **settings):
        calls.append(settings)
        return CHECK(ld, **settings)

    monkeypatch.setattr(spectrum, "ld_min_eigenvalue", counting)
    return calls


def fresh(ld, stop_above):
    return CHECK(ld, stop_above=stop_above, progress=False)


@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_a_second_run_reads_the_value_the_check_computed(counted_check, tmp_path, dtype):
    ld = random_symmetric_ld(2500, 0.002, 3, dtype)   # above DENSE_BELOW: Lanczos
    first = check_cache.remembered_min_eigenvalue(ld, stop_above=0.01)
    again = check_cache.remembered_min_eigenvalue(ld, stop_above=0.01)
    assert len(counted_check) == 1
    assert first == again == fresh(ld, 0.01)
    [stored] = (tmp_path / "cache").glob("*.json")
    assert json.loads(stored.read_text())["value"] == first


def test_any_change_of_matrix_or_settings_is_checked_afresh(counted_check):
    ld = random_symmetric_ld(400, 0.02, 4, "int16")
    base = check_cache.remembered_min_eigenvalue(ld, stop_above=0.01)
    data = ld.data.copy()
    k = int(np.flatnonzero(ld.indices != np.repeat(np.arange(400), np.diff(ld.indptr)))[7])
    data[k] += 1        # one off-diagonal code (its mirror unchanged: a different matrix)
    one_code = LDMatrix(ld.indptr, ld.indices, data, ld.snps, meta=ld.meta, scale=ld.scale)
    rescaled = LDMatrix(ld.indptr, ld.indices, ld.data, ld.snps, meta=ld.meta,
                        scale=ld.scale * (1 + 1e-12))
    fewer = ld.subset(ld.snps["snp"].to_numpy()[1:])
    changed = [(one_code, 0.01), (rescaled, 0.01), (fewer, 0.01), (ld, 0.02), (ld, None)]
    for matrix, target in changed:
        assert check_cache.remembered_min_eigenvalue(matrix, stop_above=target) == fresh(
            matrix, target)
    assert len(counted_check) == 1 + len(changed)
    assert check_cache.remembered_min_eigenvalue(ld, stop_above=0.01) == base
    assert len(counted_check) == 1 + len(changed)


def test_band_and_csr_layouts_of_one_file_are_remembered_apart(counted_check, tmp_path):
    csr, band = csr_and_band(tmp_path, band_ld(300, 5))
    values = [check_cache.remembered_min_eigenvalue(m, stop_above=0.01) for m in (csr, band)]
    assert values == [fresh(csr, 0.01), fresh(band, 0.01)]
    assert len(counted_check) == 2


@pytest.mark.parametrize("setting", ["off", "0", ""])
def test_off_computes_every_time_and_stores_nothing(monkeypatch, tmp_path, setting):
    monkeypatch.setenv(check_cache.ENVIRONMENT, setting)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert check_cache.cache_folder() is None
    ld = random_symmetric_ld(300, 0.02, 6, "int16")
    assert check_cache.remembered_min_eigenvalue(ld, stop_above=0.01) == fresh(ld, 0.01)
    assert list(tmp_path.iterdir()) == []


def test_default_folder_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.delenv(check_cache.ENVIRONMENT, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert check_cache.cache_folder() == tmp_path / "bayesmix" / "ld-check"


def test_an_unwritable_or_damaged_cache_never_changes_the_result(monkeypatch, tmp_path, caplog):
    ld = random_symmetric_ld(300, 0.02, 7, "int16")
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv(check_cache.ENVIRONMENT, str(blocked))
    with caplog.at_level("INFO", logger="bayesmix"):
        assert check_cache.remembered_min_eigenvalue(ld, stop_above=0.01) == fresh(ld, 0.01)
    assert "could not write" in caplog.text

    folder = tmp_path / "cache"
    monkeypatch.setenv(check_cache.ENVIRONMENT, str(folder))
    check_cache.remembered_min_eigenvalue(ld, stop_above=0.01)
    [stored] = folder.glob("*.json")
    for damage in ("{not json", json.dumps({"value": "nan"}), json.dumps({"other": 1})):
        stored.write_text(damage)
        caplog.clear()
        with caplog.at_level("INFO", logger="bayesmix"):
            assert check_cache.remembered_min_eigenvalue(ld, stop_above=0.01) == fresh(ld, 0.01)
        assert "not used" in caplog.text
        assert json.loads(stored.read_text())["value"] == fresh(ld, 0.01)   # stored again


def test_the_robust_setting_reads_back_both_of_its_checks(counted_check, caplog):
    """condition_ld checks the LD and, when it repairs it, the repaired LD: a second run on
    the same data computes neither again and ends with the same ridge and matrix."""
    from bayesmix.prepare.ld_conditioning import condition_ld
    from tests.test_ld_conditioning import summary_with_ld, window_ld

    r = window_ld(300, 30, 60, seed=1)
    data = summary_with_ld(np.where(r * r >= 0.1, r, 0.0), "sparse")   # needs the repair
    first = condition_ld(data, robust=True)
    assert first.repair is not None and len(counted_check) == 2
    with caplog.at_level("INFO", logger="bayesmix"):
        second = condition_ld(data, robust=True)
    assert len(counted_check) == 2
    assert caplog.text.count("LD check: read back") == 2
    assert (second.ridge, second.min_eigenvalue) == (first.ridge, first.min_eigenvalue)
    assert np.array_equal(second.data.ld.data, first.data.ld.data)
