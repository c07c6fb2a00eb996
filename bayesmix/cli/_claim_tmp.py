import contextlib
import os
from pathlib import Path
from bayesmix.errors import InputError


@contextlib.contextmanager
def claim_outputs(prefix, *, expected_bytes=0, command=""):
    folder = Path(os.fspath(prefix)).parent
    if not folder.is_dir():
        raise InputError("output directory does not exist", folder)
    yield
