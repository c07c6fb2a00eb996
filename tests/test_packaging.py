"""The package installs as documented: console scripts, and bayesmix.models from a wheel."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script", ["bayesmix", "bayesmix-gctb", "bayesmix-mixer"])
def test_console_scripts_report_version_and_help(script):
    exe = Path(sys.executable).with_name(script)
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert "bayesmix" in out.stdout
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True)
    assert "usage" in out.stdout.lower()


def test_models_import_in_editable_install():
    import bayesmix.models

    assert Path(bayesmix.models.__file__).parent.name == "models"


def test_wheel_contains_models_and_data_and_imports(tmp_path):
    """Build a wheel, install it into a scratch target and import bayesmix.models from it."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "wheel", ROOT],
        check=True,
    )
    wheel = next((tmp_path / "wheel").glob("bayesmix-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "bayesmix/models/__init__.py" in names
    assert "bayesmix/data/g1000_eur_chr22_sub.bed" in names
    for init in (ROOT / "bayesmix").rglob("__init__.py"):
        assert init.relative_to(ROOT).as_posix() in names, f"{init.parent} missing from pyproject packages"
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", target, wheel],
        check=True,
    )
    code = (
        "import bayesmix.models, bayesmix.data as d; "
        "assert bayesmix.models.__file__.startswith(%r); "
        "assert d.example_bfile(22).with_suffix('.bed').exists()" % str(target)
    )
    subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
                   check=True)
