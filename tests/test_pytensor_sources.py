"""PyTensor's generated source goes to one content-addressed directory once bayesmix is
imported (bayesmix/__init__.py), not to a new file in the temporary directory per function."""

import os
import subprocess
import sys
import textwrap

COMPILE_TWICE = textwrap.dedent("""
    import os, sys
    if sys.argv[1] == "pytensor-first":
        import pytensor
    import bayesmix, pytensor
    import pytensor.tensor as pt
    x = pt.dvector("x")
    for _ in range(2):  # the same graph compiled twice
        f = pytensor.function([x], pt.exp(x) + 1.5, mode="NUMBA")
    assert abs(f([0.0])[0] - 2.5) < 1e-12
    print(pytensor.config.generated_src_dir)
""")


def _run(tmp_path, order, flags=None):
    env = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}
    env["TMPDIR"] = str(tmp_path)
    if flags is not None:
        env["PYTENSOR_FLAGS"] = flags
    done = subprocess.run([sys.executable, "-c", COMPILE_TWICE, order], env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_generated_source_is_kept_in_one_directory(tmp_path):
    for order in ("bayesmix-first", "pytensor-first"):
        source_dir = _run(tmp_path, order)
        assert source_dir == str(tmp_path / f"bayesmix-pytensor-{os.getuid()}")
        # nothing but the directory in the temporary directory; the function's files in it,
        # named by their content (the second compilation reused them)
        assert os.listdir(tmp_path) == [os.path.basename(source_dir)]
        files = os.listdir(source_dir)
        assert files and all(f.startswith("m") and f.endswith(".py") for f in files)
    assert len(os.listdir(source_dir)) == len(files)  # the second process added none


def test_a_users_choice_is_kept(tmp_path):
    own = tmp_path / "mine"
    assert _run(tmp_path, "bayesmix-first", f"generated_src_dir={own}") == str(own)
    assert os.listdir(tmp_path) == ["mine"]
