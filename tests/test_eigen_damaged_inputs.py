"""Eigen-decomposed LD with values that are not numbers, or eigenpairs that hold no LD: the
block's LD decomposed, a folder read for SBayes or imputation. Truths: numpy's own
decomposition and rotation of the positive eigenpairs, and the error naming the file."""

from __future__ import annotations

import numpy as np
import pytest
from test_sbayes_eigen import eigen_folder, sumstats_table, two_block_ld  # noqa: F401

from bayesmix.errors import InputError
from bayesmix.ld.eigen import decompose_ld
from bayesmix.ld.gctb_eigen import read_eigen_bin, write_eigen_bin, write_gctb_eigen
from bayesmix.ld.open import open_eigen
from bayesmix.prepare.eigen_data import prepare_eigen_data
from bayesmix.prepare.impute_summary import impute_summary


def ar1(m: int, rho: float = 0.8) -> np.ndarray:
    idx = np.arange(m)
    return rho ** np.abs(np.subtract.outer(idx, idx))


@pytest.mark.parametrize("where", [(5, 0), (0, 5), (3, 3)])
def test_ld_with_nan_is_refused_not_decomposed(where, tmp_path):
    """A NaN anywhere in a block's LD (lower or upper triangle, diagonal) is an error naming
    the file, row and column; it used to give NaN eigenpairs (one 'kept', positive sum 1)."""
    r = ar1(12)
    r[where] = np.nan
    source = tmp_path / "block7.ldm.bin"
    with pytest.raises(InputError, match=rf"row {where[0] + 1}, column {where[1] + 1}") as err:
        decompose_ld(r, 0.995, source=source)
    assert str(source) in str(err.value)
    values, vectors, total = decompose_ld(ar1(12), 0.995)  # a finite matrix still decomposes
    exact = np.linalg.eigvalsh(ar1(12))[::-1]
    np.testing.assert_allclose(values, exact[:len(values)], rtol=1e-12)
    np.testing.assert_allclose(total, exact.sum(), rtol=1e-12)


@pytest.fixture
def gctb_folder(tmp_path, two_block_ld):  # noqa: F811
    """The two AR(1) blocks written as a GCTB eigen folder (every eigenpair kept), with
    statistics of random standardised effects for its SNPs."""
    blocks, snps = two_block_ld
    folder = write_gctb_eigen(eigen_folder(blocks, snps), tmp_path / "eig")
    b_std = np.random.default_rng(11).normal(0, 0.01, len(snps))
    table = sumstats_table(tmp_path / "t.ma", snps, b_std, 50_000)
    return folder, table, blocks


@pytest.mark.parametrize("damage", ["eigenvalue", "eigenvector"])
def test_nan_in_an_eigen_file_names_the_block_file(gctb_folder, damage):
    """NaN in a block's eigen.bin: an InputError naming that file (it used to stop sampling
    with an IndexError traceback from inside PyTensor: NaN w is 'imputed' by PyMC)."""
    folder, table, _ = gctb_folder
    path = folder / "blockb1.eigen.bin"
    values, vectors, total, cutoff = read_eigen_bin(path)
    values, vectors = values.copy(), vectors.copy()
    if damage == "eigenvalue":
        values[0] = np.nan
    else:
        vectors[3, 2] = np.nan
    write_eigen_bin(path, values, vectors, total, cutoff)
    with pytest.raises(InputError, match=f"block b1 .*{damage}s are not finite") as err:
        prepare_eigen_data(table, open_eigen(folder))
    assert str(path) in str(err.value)
    with pytest.raises(InputError, match="not finite"):
        impute_summary(table.drop(index=table.index[40:45]), open_eigen(folder))


def test_nan_in_a_bayesmix_eigen_folder_names_the_file(tmp_path, two_block_ld):  # noqa: F811
    blocks, snps = two_block_ld
    eigen = eigen_folder(blocks, snps)
    eigen.eigenvectors[len(blocks[0]) ** 2 + 4] = np.inf  # block 2
    eigen.save(tmp_path / "eig")
    table = sumstats_table(tmp_path / "t.ma", snps, np.zeros(len(snps)), 10_000)
    with pytest.raises(InputError, match="block b1 \\(2 of 2\\)") as err:
        prepare_eigen_data(table, open_eigen(tmp_path / "eig"))
    assert str(tmp_path / "eig" / "eigenvectors.npy") in str(err.value)


def test_eigenpairs_without_ld_are_left_out(gctb_folder):
    """A folder whose last stored eigenvalues are 0 and negative (a cut-off of 1 that keeps
    every eigenpair): the rotation uses the positive ones only, w = L^-1/2 U'b* from numpy,
    where 1/sqrt(0) made w infinite (the chain then 'diverged', blaming the GWAS)."""
    folder, table, blocks = gctb_folder
    path = folder / "blockb0.eigen.bin"
    values, vectors, total, cutoff = read_eigen_bin(path)
    values = values.copy()
    values[-2:] = [0.0, -1e-3]
    write_eigen_bin(path, values, vectors, total, cutoff)
    data = prepare_eigen_data(table, open_eigen(folder))
    assert np.isfinite(data.w).all()
    assert list(data.ranks) == [len(blocks[0]) - 2, len(blocks[1])]
    m0 = len(blocks[0])
    u = vectors[:, :m0 - 2].astype(np.float64)
    lam = values[:m0 - 2]
    b_std = data.stats["B_STD"].to_numpy()[:m0]
    np.testing.assert_allclose(data.w[:m0 - 2], (u.T @ b_std) / np.sqrt(lam), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(data.q_block(0), u * np.sqrt(lam), rtol=1e-6, atol=1e-7)
    # imputation from the same folder is finite too
    imputed, _ = impute_summary(table.iloc[3:], open_eigen(folder))
    assert np.isfinite(imputed["Z"]).all()


def _snp_info_lines(folder):
    return (folder / "snp.info").read_text().splitlines(keepends=True)


@pytest.mark.parametrize("rows", [(10, 20), (1, 2)])  # inside a block; its first two SNPs
def test_moved_snp_info_lines_are_refused(gctb_folder, rows):
    """Two lines of a block exchanged in snp.info: the eigenvector rows follow the file's
    order, so each SNP would meet the other's LD (an audit's run finished with Pi 0.034
    instead of 0.040, without a word). Refused naming snp.info, the line and the Index
    column; the untouched folder reads."""
    folder, table, _ = gctb_folder
    assert len(open_eigen(folder).snps) == len(table)
    lines = _snp_info_lines(folder)
    a, b = rows  # data lines (line 0 is the header)
    lines[a], lines[b] = lines[b], lines[a]
    (folder / "snp.info").write_text("".join(lines))
    # the first line whose Index is not above the one before: the line after the first moved
    with pytest.raises(InputError, match=rf"snp.info, line {a + 2}, column 3: .*lines were moved"):
        open_eigen(folder)


def test_a_block_whose_first_snp_is_not_ldm_info_s_is_refused(gctb_folder):
    """ldm.info names each block's first and last SNP; a first line of another SNP (here the
    block's first SNP listed under another ID) is refused naming ldm.info's StartSnpID."""
    folder, _, _ = gctb_folder
    lines = _snp_info_lines(folder)
    fields = lines[1].split()
    lines[1] = lines[1].replace(f" {fields[1]} ", " rsRenamed ", 1)
    (folder / "snp.info").write_text("".join(lines))
    with pytest.raises(InputError, match=r"ldm.info, line 2, column 4: block .* starts or ends "
                                         r"with SNP .* snp.info lists rsRenamed"):
        open_eigen(folder)
