"""The SBayes recovery example runs end to end with the default (robust) settings."""

import json
import runpy
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sbayes_recovery.py"


def test_sbayes_recovery_example(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), "--out", str(tmp_path), "--snps", "1500",
                                      "--n-pop", "1500", "--n-ref", "800", "--chain-length",
                                      "400", "--burn-in", "150", "--pi", "0.02"])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    rows = json.loads((tmp_path / "recovery.json").read_text())["rows"]
    assert [r["method"] for r in rows] == ["SBayesC", "SBayesR"]
    for row in rows:
        assert not row["diverged"], row.get("error")
        # truth: b'Rb of the simulated effects; few SNPs and a small panel -> loose bound
        assert abs(row["rel_error"]) < 0.3, row


def test_sbayes_recovery_example_with_sparse_ld(tmp_path, monkeypatch):
    """GCTB's thresholded sparse LD from an out-of-sample 1,000-person panel (indefinite):
    the robust default repairs it block-wise and recovers hsq without diverging."""
    monkeypatch.setattr(sys, "argv", [str(EXAMPLE), "--out", str(tmp_path), "--snps", "3000",
                                      "--n-pop", "2000", "--n-ref", "1000", "--ld-kind",
                                      "sparse", "--chain-length", "400", "--burn-in", "150"])
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    rows = json.loads((tmp_path / "recovery.json").read_text())["rows"]
    for row in rows:
        assert not row["diverged"], row.get("error")
        assert row["ld_repaired"]
        assert abs(row["rel_error"]) < 0.3, row
