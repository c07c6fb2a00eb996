"""Calibration of weak-LD sums for the panel's noise, against simulated sums of known truth."""

import numpy as np
import pytest

from bayesmix.ld.weak_ld import MIN_ROWS, NEIGHBOURS, calibrate_weak_ld, local_mean


def test_local_mean_is_the_mean_of_the_neighbours_without_the_row():
    values = np.random.default_rng(0).normal(size=37)
    got = local_mean(values, neighbours=4)
    for j in range(len(values)):
        around = [values[k] for k in range(max(j - 4, 0), min(j + 5, len(values))) if k != j]
        assert got[j] == pytest.approx(np.mean(around), abs=1e-12)
    assert local_mean(np.array([2.5]), neighbours=4)[0] == 2.5


def simulated_sums(rng, rows_per_chromosome=(3000, 2000, 2500), noise_sd=0.3):
    """Per chromosome: true sums T (a smooth trend along the rows plus a rough part), and the
    two halves' sums T + e_h with noise correlated along the rows (SNPs in LD err together)
    and independent between halves; the whole panel's noise is the halves' mean."""
    truth, whole, halves = [], [], []
    for rows in rows_per_chromosome:
        trend = np.convolve(rng.normal(size=rows + 200), np.ones(200) / np.sqrt(200), "valid")
        t = 1.0 + 0.15 * trend[:rows] + 0.15 * rng.normal(size=rows)

        def noise():
            return noise_sd * np.convolve(rng.normal(size=rows + 9), np.ones(10) / np.sqrt(10),
                                          "valid")

        a, b = t + noise(), t + noise()
        truth.append(t)
        whole.append((a + b) / 2)
        halves.append(np.column_stack([a, b]))
    return truth, whole, halves


def slope(y, x):
    return np.cov(y, x)[0, 1] / np.var(x, ddof=1)


def test_calibrated_sums_predict_the_truth_without_attenuation():
    """Regressed on the raw sums the truth has slope < 1 (the noise attenuates it); on the
    calibrated sums slope 1, and the calibrated sums are closer to the truth."""
    rng = np.random.default_rng(11)
    truth, whole, halves = simulated_sums(rng)
    calibrated, calibration = calibrate_weak_ld(whole, halves)
    t, raw, cal = (np.concatenate(x) for x in (truth, whole, calibrated))
    assert slope(t, raw) < 0.7
    assert slope(t, cal) == pytest.approx(1.0, abs=0.08)
    assert np.mean((cal - t) ** 2) < 0.6 * np.mean((raw - t) ** 2)
    assert cal.mean() == pytest.approx(raw.mean(), abs=1e-9)      # nothing clipped here
    # the split-half reliability is Var(T) / Var(w)
    assert calibration.reliability == pytest.approx(np.var(t) / np.var(raw), abs=0.05)
    assert calibration.rows == len(t) and 0 < calibration.weight_own < 1
    assert [len(c) for c in calibrated] == [len(w) for w in whole]


def test_noise_free_sums_are_left_as_they_are():
    rng = np.random.default_rng(12)
    truth, _, _ = simulated_sums(rng)
    calibrated, calibration = calibrate_weak_ld(truth, [np.column_stack([t, t]) for t in truth])
    assert calibration.reliability == pytest.approx(1.0)
    for got, t in zip(calibrated, truth):
        np.testing.assert_allclose(got, t, atol=1e-9)


def test_too_few_rows_are_not_calibrated():
    rng = np.random.default_rng(13)
    _, whole, halves = simulated_sums(rng, rows_per_chromosome=(MIN_ROWS - 1,))
    calibrated, calibration = calibrate_weak_ld(whole, halves)
    assert calibration is None
    np.testing.assert_array_equal(calibrated[0], whole[0])
    assert MIN_ROWS > 2 * NEIGHBOURS


def test_fits_use_calibrated_sums_unless_the_ld_is_in_sample():
    """load_mixer_data's choice: the tags' rows of the calibrated sums (moments pooled over
    every chromosome's rows), or of the stored sums with --ld-in-sample; the fourth-moment
    sums of those rows, capped at r2min / 2 x the sums used (0 for a folder without them)."""
    from bayesmix.prepare.mixer import _tag_weak_ld

    rng = np.random.default_rng(14)
    _, whole, halves = simulated_sums(rng)
    fourth = [w * rng.uniform(0.0, 0.05, len(w)) for w in whole[:2]] + [None]
    rows = [np.array([0, 5, 17]), np.array([3]), np.array([100, 2000])]
    per_chromosome = list(zip(whole, halves, fourth, [0.05] * 3, rows))
    calibrated, _ = calibrate_weak_ld(whole, halves)
    for calibrate, used in ((True, calibrated), (False, whole)):
        got, got4, calibration = _tag_weak_ld(per_chromosome, calibrate=calibrate)
        np.testing.assert_array_equal(got, np.concatenate([c[r] for c, r in zip(used, rows)]))
        assert (calibration is not None) == calibrate
        expect4 = [np.minimum(f[r], 0.025 * u[r]) for f, u, r in zip(fourth[:2], used, rows)]
        np.testing.assert_array_equal(got4, np.concatenate(expect4 + [np.zeros(2)]))
        assert 0 < (got4[:4] < np.concatenate([f[r] for f, r in zip(fourth[:2], rows)])).sum()


def test_folders_with_split_halves_are_calibrated_next_to_one_without():
    """A folder without split-half sums (an older LD build) next to two with them: those two
    are calibrated (moments pooled over their rows), the third used as stored. Before, one
    such folder left every folder's sums uncalibrated while the warnings blamed only it."""
    from bayesmix.prepare.mixer import _tag_weak_ld, _weak_ld_line

    rng = np.random.default_rng(15)
    _, whole, halves = simulated_sums(rng)
    rows = [np.arange(len(w)) for w in whole]
    per_chromosome = [(whole[0], halves[0], None, 0.05, rows[0]),
                      (whole[1], None, None, 0.05, rows[1]),
                      (whole[2], halves[2], None, 0.05, rows[2])]
    got, _, calibration = _tag_weak_ld(per_chromosome, calibrate=True)
    calibrated, expected = calibrate_weak_ld([whole[0], whole[2]], [halves[0], halves[2]])
    np.testing.assert_array_equal(got, np.concatenate([calibrated[0], whole[1], calibrated[1]]))
    assert calibration == expected and calibration.rows == len(whole[0]) + len(whole[2])
    line = _weak_ld_line(["1", "2", "3"], per_chromosome, calibration, ld_in_sample=False)
    assert line == f"chr1, chr3: {calibration.describe()}"
    assert _weak_ld_line(["1", "2", "3"], per_chromosome, None, ld_in_sample=True) == (
        "weak-LD sums used as stored (--ld-in-sample: the LD is the GWAS sample's own)")
