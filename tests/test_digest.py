"""Input digests: file contents by SHA-256, large files and .bed sampled by the documented rule,
PLINK / GCTB LD prefixes and folders, clear errors."""

import gzip
import hashlib
import os
import time

import numpy as np
import pytest

from bayesmix.errors import InputError
from bayesmix.io import digest
from bayesmix.io.digest import file_digest, input_digest, options_fingerprint, sampled_digest


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sampled_by_hand(data: bytes) -> str:
    """The rule of the module docstring, written out: size, the first and last MiB, and 64
    blocks of 64 KiB at offsets k (size - 64 KiB) // 63."""
    size = len(data)
    h = hashlib.sha256(b"bayesmix sampled v1\0" + size.to_bytes(8, "little"))
    h.update(data[:1 << 20])
    h.update(data[max(size - (1 << 20), 0):])
    for k in range(64):
        start = k * max(size - (1 << 16), 0) // 63
        h.update(data[start:start + (1 << 16)])
    return h.hexdigest()


def sampled_offsets(size):
    last = size - (1 << 16)
    return [k * last // 63 for k in range(64)]


@pytest.fixture
def big(tmp_path):
    """A 40 MiB random file, and the offset of a byte no sampled block covers."""
    rng = np.random.default_rng(1)
    data = bytearray(rng.integers(0, 256, 40 << 20, dtype=np.uint8).tobytes())
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    offsets = sampled_offsets(len(data))
    gap = offsets[10] + (1 << 16) + 100  # blocks are ~650 KiB apart: this byte is unread
    assert gap < offsets[11] and gap > 1 << 20
    return path, data, offsets, gap


def test_file_digest_is_the_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "pheno.txt"
    path.write_bytes(b"FID IID y\n1 1 0.5\n")
    assert file_digest(path) == sha(b"FID IID y\n1 1 0.5\n")
    assert input_digest(path) == file_digest(path)
    packed = tmp_path / "pheno.txt.gz"
    packed.write_bytes(gzip.compress(b"FID IID y\n1 1 0.5\n"))
    assert file_digest(packed) == sha(packed.read_bytes())  # hashed as stored, not unpacked


def test_sampled_digest_follows_the_documented_rule(big):
    path, data, offsets, gap = big
    assert sampled_digest(path) == sampled_by_hand(bytes(data))
    small = path.with_name("small.bin")
    small.write_bytes(data[:3000])  # smaller than one block: every byte read
    assert sampled_digest(small) == sampled_by_hand(bytes(data[:3000]))


def test_a_change_in_a_sampled_block_changes_the_digest(big):
    path, data, offsets, gap = big
    before = sampled_digest(path)
    for where in (offsets[10] + 5, 10, len(data) - 10):  # a middle block, head, tail
        changed = bytearray(data)
        changed[where] ^= 0xFF
        path.write_bytes(changed)
        assert sampled_digest(path) != before
    changed = bytearray(data)
    changed[gap] ^= 0xFF
    path.write_bytes(changed)
    assert sampled_digest(path) == before  # documented: bytes between blocks are not read
    path.write_bytes(data + b"\0")
    assert sampled_digest(path) != before  # the size is part of it


def test_files_above_the_limit_are_sampled(tmp_path, monkeypatch):
    """Files up to FULL_READ_LIMIT (64 MiB) are read whole, larger ones sampled (the limit is
    lowered here so the test stays small)."""
    assert digest.FULL_READ_LIMIT == 64 << 20
    monkeypatch.setattr(digest, "FULL_READ_LIMIT", 8 << 20)
    data = np.random.default_rng(2).integers(0, 256, 8 << 20, dtype=np.uint8).tobytes()
    at_limit = tmp_path / "at.bin"
    at_limit.write_bytes(data)
    assert file_digest(at_limit) == sha(data)
    above = tmp_path / "above.bin"
    above.write_bytes(data + b"x")
    assert file_digest(above) == sampled_by_hand(data + b"x") != sha(data + b"x")


def test_a_100_gib_file_is_not_read_whole(tmp_path):
    """A sparse 100 GiB file (nothing on disk): sampled, in well under a second."""
    path = tmp_path / "huge.bed"
    try:
        with open(path, "wb") as fh:
            fh.truncate(100 << 30)
    except OSError as exc:
        pytest.skip(f"no sparse files here: {exc}")
    started = time.perf_counter()
    assert file_digest(path) == sampled_digest(path)
    assert time.perf_counter() - started < 2.0


def write_plink(prefix, bed: bytes, bim: str, fam: str):
    open(f"{prefix}.bed", "wb").write(bed)
    open(f"{prefix}.bim", "w").write(bim)
    open(f"{prefix}.fam", "w").write(fam)


def test_plink_prefix(tmp_path, big):
    _, data, offsets, _ = big
    prefix = tmp_path / "geno"
    bim = "22\trs1\t0\t100\tA\tG\n22\trs2\t0\t200\tC\tT\n"
    fam = "f1 i1 0 0 1 -9\nf2 i2 0 0 2 -9\n"
    write_plink(prefix, bytes(data), bim, fam)
    first = input_digest(prefix)
    assert first == input_digest(str(prefix))
    write_plink(prefix, bytes(data), bim.replace("rs2", "rs3"), fam)
    assert input_digest(prefix) != first  # the .bim in full
    write_plink(prefix, bytes(data), bim, fam.replace("i2", "i3"))
    assert input_digest(prefix) != first  # the .fam in full
    changed = bytearray(data)
    changed[offsets[40] + 1] ^= 1
    write_plink(prefix, bytes(changed), bim, fam)
    assert input_digest(prefix) != first  # a sampled .bed block
    write_plink(prefix, bytes(data), bim, fam)
    assert input_digest(prefix) == first
    os.remove(f"{prefix}.fam")
    with pytest.raises(InputError, match=r"geno\.fam not found"):
        input_digest(prefix)


def test_gctb_ld_prefix(tmp_path):
    prefix = tmp_path / "chr22.ldm.sparse"
    (tmp_path / "chr22.ldm.sparse.info").write_text("Chrom ID\n22 rs1\n")
    (tmp_path / "chr22.ldm.sparse.bin").write_bytes(b"\x01\x02\x03\x04")
    first = input_digest(prefix)
    (tmp_path / "chr22.ldm.sparse.bin").write_bytes(b"\x01\x02\x03\x05")
    assert input_digest(prefix) != first
    (tmp_path / "chr22.ldm.sparse.bin").unlink()
    with pytest.raises(InputError, match=r"chr22\.ldm\.sparse\.bin not found"):
        input_digest(prefix)


def test_folder_digest_covers_every_file_by_relative_name(tmp_path):
    a = tmp_path / "a" / "ld"
    (a / "chr22").mkdir(parents=True)
    (a / "meta.json").write_text("{}")
    (a / "chr22" / "indptr.npy").write_bytes(b"123")
    first = input_digest(a)
    b = tmp_path / "b" / "ld"  # the same files elsewhere: the same digest
    (b / "chr22").mkdir(parents=True)
    (b / "meta.json").write_text("{}")
    (b / "chr22" / "indptr.npy").write_bytes(b"123")
    assert input_digest(b) == first
    (b / ".meta.json.x7.tmp").write_text("left by an interrupted write")
    assert input_digest(b) == first  # dot files are skipped
    (b / "chr22" / "indptr.npy").rename(b / "chr22" / "indices.npy")
    assert input_digest(b) != first  # names count
    (b / "chr22" / "indices.npy").rename(b / "chr22" / "indptr.npy")
    (b / "chr22" / "data.npy").write_bytes(b"")
    assert input_digest(b) != first  # a new file counts


def test_nothing_at_the_path_is_a_clear_error(tmp_path):
    with pytest.raises(InputError) as caught:
        input_digest(tmp_path / "missing")
    assert str(tmp_path / "missing") in str(caught.value)
    assert "PLINK prefix" in str(caught.value) and "GCTB LD prefix" in str(caught.value)


def test_options_fingerprint(tmp_path):
    pheno = tmp_path / "y.phen"
    pheno.write_text("1 1 0.5\n")
    keep = [tmp_path / "a.txt", tmp_path / "b.txt"]
    keep[0].write_text("1 1\n")
    keep[1].write_text("2 2\n")
    entries = options_fingerprint({"--hsq": 0.5, "--pheno": str(pheno), "--covar": None,
                                   "--gamma": (0, 0.01, 1), "--keep": keep},
                                  files={"--pheno", "--covar", "--keep"})
    assert entries == {"--hsq": "0.5", "--pheno": sha(b"1 1 0.5\n"),
                       "--gamma": "0,0.01,1", "--keep": f"{sha(b'1 1\n')},{sha(b'2 2\n')}"}
    with pytest.raises(InputError, match="absent"):
        options_fingerprint({"--pheno": str(tmp_path / "absent")}, files={"--pheno"})
