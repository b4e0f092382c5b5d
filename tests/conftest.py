"""Fixtures shared by several test files."""

import pytest

from workflow_helpers import make_workdir, snakemake

# the session fixture `trained` (a saved final model) of the modeling and CLI tests
pytest_plugins = ["predict_helpers"]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The whole workflow once on a small simulated demo (90 patients, 2 batches)."""
    workdir = make_workdir(tmp_path_factory.mktemp("demo"),
                           demo={"n_patients": 90, "n_batches": 2, "seed": 3})
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir
