"""bayesmix.progress: line mode (what log files get), modes, and the hooks that feed it.

Expected lines are worked out by hand from the fake clock: e.g. 10 of 100 units done after
10 s leaves 90 units at 1 unit/s, i.e. 0:01:30.
"""

import logging

import numpy as np
import pytest

from bayesmix import progress as P


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def lines(caplog):
    caplog.set_level(logging.INFO, logger="bayesmix")

    def get():
        return [r.getMessage() for r in caplog.records if r.name == "bayesmix"]

    return get


def test_a_line_per_tenth_with_counts_elapsed_and_time_left(lines):
    clock = FakeClock()
    with P.Progress(100, desc="LD (r2)", unit="SNPs", progress="lines", delay=0,
                    clock=clock) as bar:
        for _ in range(100):
            clock.now += 1.0
            bar.update(1)
    out = lines()
    assert len(out) == 10           # 10%, 20%, ..., 90%, then the closing line
    assert out[0] == "LD (r2): 10/100 SNPs (10%), 0:00:10 elapsed, 0:01:30 left"
    assert out[4] == "LD (r2): 50/100 SNPs (50%), 0:00:50 elapsed, 0:00:50 left"
    assert out[8] == "LD (r2): 90/100 SNPs (90%), 0:01:30 elapsed, 0:00:10 left"
    assert out[9] == "LD (r2): 100/100 SNPs (100%) done in 0:01:40"


def test_interval_bounds_the_gap_between_lines(lines):
    clock = FakeClock()
    with P.Progress(1000, desc="work", unit="items", progress="lines", delay=0, interval=30,
                    clock=clock) as bar:
        for _ in range(30):          # 150 s, 30 items: no 10% milestone (100 items) is reached
            clock.now += 5.0
            bar.update(1)
    out = lines()[:-1]
    # a line at t = 30, 60, ..., 150 s, i.e. after 6, 12, ..., 30 items
    assert [s.split(":")[1].split()[0] for s in out] == ["6/1,000", "12/1,000", "18/1,000",
                                                          "24/1,000", "30/1,000"]
    # 6 items in 30 s: 994 left at 5 s each = 4970 s = 1:22:50
    assert out[0].endswith("0:00:30 elapsed, 1:22:50 left")


def test_short_work_shows_nothing_and_off_is_silent(lines):
    clock = FakeClock()
    with P.Progress(10, desc="quick", progress="lines", delay=2.0, clock=clock) as bar:
        for _ in range(10):
            clock.now += 0.1
            bar.update(1)
    with P.Progress(10, desc="silent", progress=False, delay=0, clock=clock) as bar:
        for _ in range(10):
            clock.now += 100
            bar.update(1)
    assert lines() == []


def test_delay_skips_early_milestones_then_reports(lines):
    clock = FakeClock()
    with P.Progress(10, desc="w", unit="blocks", progress="lines", delay=3.5, clock=clock) as bar:
        for _ in range(10):
            clock.now += 1.0
            bar.update(1)
    # nothing before 3.5 s (blocks 1-3), then each block is another 10%
    assert [s.split(": ")[1].split(" (")[0] for s in lines()] == [
        "4/10 blocks", "5/10 blocks", "6/10 blocks", "7/10 blocks", "8/10 blocks", "9/10 blocks",
        "10/10 blocks"]


def test_resumed_work_extrapolates_from_this_run_only(lines):
    clock = FakeClock()
    with P.Progress(100, desc="LD", unit="SNPs", progress="lines", delay=0, initial=60,
                    clock=clock) as bar:
        for _ in range(10):
            clock.now += 2.0
            bar.update(1)
    # 10 SNPs in 20 s in this run, 30 left: 60 s (the 60 restored SNPs took no time here)
    assert lines()[0] == "LD: 70/100 SNPs (70%), 0:00:20 elapsed, 0:01:00 left"


def test_unknown_total_notes_and_stopped_line(lines):
    clock = FakeClock()
    with pytest.raises(KeyboardInterrupt):
        with P.Progress(None, desc="Lanczos", unit="products", progress="lines", delay=0,
                        interval=5, clock=clock) as bar:
            for k in range(1, 13):
                clock.now += 1.0
                bar.update(1, note=f"estimate {-k / 10:.1f}")
            raise KeyboardInterrupt
    assert lines() == ["Lanczos: 5 products, 0:00:05 elapsed; estimate -0.5",
                       "Lanczos: 10 products, 0:00:10 elapsed; estimate -1.0",
                       "Lanczos: stopped at 12 products after 0:00:12"]


def test_track_yields_every_item_and_counts_them(lines):
    clock = FakeClock()

    def items():
        for i in range(20):
            clock.now += 1.0
            yield i

    got = list(P.track(items(), total=20, desc="blocks", unit="blocks", progress="lines",
                       delay=0, every=0.25, clock=clock))
    assert got == list(range(20))
    assert [s.split(": ")[1].split(" (")[0] for s in lines()] == [
        "5/20 blocks", "10/20 blocks", "15/20 blocks", "20/20 blocks"]


def test_modes():
    assert P.mode(False) == "off"
    assert P.mode("lines") == "lines"
    assert P.mode(True) in ("bar", "lines")
    with pytest.raises(ValueError):
        P.mode("sometimes")
    assert P.format_seconds(3725) == "1:02:05"
    assert P.format_seconds(float("inf")) == "?"


def test_lanczos_reports_decreasing_ritz_values_above_the_smallest_eigenvalue():
    """Ritz values minimise the Rayleigh quotient over growing Krylov spaces: they never
    increase and never go below the true smallest eigenvalue (dense eigvalsh)."""
    from bayesmix.ld.spectrum import lanczos_min_eigenvalue

    rng = np.random.default_rng(4)
    x = rng.standard_normal((60, 300))
    r = np.corrcoef(x, rowvar=False)          # rank 59 < 300: lambda_min ~ 0
    truth = np.linalg.eigvalsh(r)[0]
    seen = []
    est = lanczos_min_eigenvalue(lambda v, out: np.dot(r, v, out=out), 300,
                                 report=lambda k, ritz, e: seen.append((k, ritz, e)))
    ks, ritz, _ = map(np.array, zip(*seen))
    assert list(ks) == list(range(1, est.n_products + 1))
    assert np.all(np.diff(ritz) <= 1e-12)
    assert np.all(ritz >= truth - 1e-10)
    assert ritz[-1] == est.ritz


def test_eigenvalue_check_reports_products_estimate_and_target(lines, monkeypatch):
    """The SBayes eigenvalue check off a terminal: a line per interval during Lanczos with
    the number of products, the current estimate and the ridge target."""
    import pandas as pd
    import scipy.sparse as sp

    from bayesmix.ld import spectrum
    from bayesmix.ld.store import LDMatrix

    m = 400
    lags = np.arange(1, 30)
    upper = sp.diags([np.full(m - k, 0.9 ** k) for k in lags], lags, shape=(m, m))
    band = (upper + upper.T + sp.identity(m)).tocsr()
    snps = pd.DataFrame({"snp": [f"s{j}" for j in range(m)], "chr": "1",
                         "bp": np.arange(m) + 1, "a1": "A", "a2": "G", "freq": 0.3})
    ld = LDMatrix.from_scipy(band, snps)
    monkeypatch.setattr(spectrum, "PROGRESS_INTERVAL", 0.0)
    monkeypatch.setattr(P.Progress.__init__, "__kwdefaults__",
                        dict(P.Progress.__init__.__kwdefaults__, delay=0.0))
    value = spectrum.ld_min_eigenvalue(ld, dense_below=100, stop_above=0.5, progress="lines")
    products = [s for s in lines() if s.startswith("LD eigenvalue check, Lanczos on SNPs 0..399")]
    assert products[0].startswith("LD eigenvalue check, Lanczos on SNPs 0..399: 1 products")
    assert all("target 0.5" in s and "estimate" in s for s in products[:-1])
    # the last estimate reported is the value returned
    assert products[-2].endswith(f"estimate {value:.4g}, target 0.5")
    assert products[-1].split(": ")[1].startswith(f"{len(products) - 1} products done in")
    assert value <= np.linalg.eigvalsh(band.toarray())[0] + 1e-9
