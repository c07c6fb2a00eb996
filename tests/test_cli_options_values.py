"""Value types of command-line options (:mod:`bayesmix.cli.options`): NaN passes every
comparison with a bound, so a bounded number, a list of numbers and a free number all
refuse ``nan`` and ``inf`` by name of the option; ``--maf`` is a minor allele frequency."""

import argparse

import pytest

from bayesmix.cli import gctb
from bayesmix.cli.options import (finite_float, float_list, minor_allele_frequency,
                                  nonnegative_float, parse, positive_float, positive_int,
                                  probability, unit_interval)
from bayesmix.errors import InputError


@pytest.mark.parametrize("kind", [positive_float, nonnegative_float, probability,
                                  unit_interval, minor_allele_frequency, finite_float])
@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "1e400"])
def test_bounded_numbers_refuse_non_finite_values(kind, text):
    with pytest.raises(argparse.ArgumentTypeError, match="expected a finite number"):
        kind(text)


def test_bounds_still_apply():
    assert finite_float("-1.5") == -1.5 and minor_allele_frequency("0.5") == 0.5
    assert positive_int("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="must be <= 0.5, got 0.6"):
        minor_allele_frequency("0.6")
    with pytest.raises(argparse.ArgumentTypeError, match="expected a number"):
        finite_float("x")
    assert float_list("0,0.01,0.1,1") == (0, 0.01, 0.1, 1)
    with pytest.raises(argparse.ArgumentTypeError, match="expected finite numbers"):
        float_list("0,nan,1")


BASE = ["--bfile", "data/x", "--pheno", "x.phen", "--out", "never"]


@pytest.mark.parametrize("bayes, flag, value, message", [
    ("S", "--S", "nan", "expected a finite number, got 'nan'"),   # ran with hsq 0
    ("S", "--S", "inf", "expected a finite number, got 'inf'"),   # ZeroDivisionError
    ("C", "--maf", "nan", "expected a finite number"),            # silently ignored
    ("C", "--maf", "0.6", "must be <= 0.5"),                      # 'no SNPs left'
    ("N", "--pi-snp", "nan", "expected a finite number"),         # named --pi
    ("C", "--hsq", "nan", "expected a finite number"),
    ("C", "--pi", "nan", "expected finite numbers"),
    ("R", "--gamma", "0,inf,1,2", "expected finite numbers"),
])
def test_gctb_options_refuse_non_finite_values_by_name(bayes, flag, value, message):
    with pytest.raises(InputError, match=f"argument {flag}: {message}"):
        parse(gctb.SPEC, ["--bayes", bayes, *BASE, flag, value])
