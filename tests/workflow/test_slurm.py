"""The workflow through profiles/slurm on a real SLURM scheduler: byte-identical to a local run.

Needs a running SLURM and the executor plugin (pip install -e '.[slurm]'). `.ci/slurm.sh up`
starts a single-node cluster on this machine, whose partition and account are the defaults
below; on a real cluster, $HAICPRED_SLURM_PARTITION and $HAICPRED_SLURM_ACCOUNT win. Without
SLURM the test is skipped with the reason, except in CI (CI set), where it fails: CI must prove
the SLURM path (.ci/run brings the cluster up before pytest).
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from workflow_helpers import DETERMINISTIC, REPO, digest

CI_CLUSTER = {"HAICPRED_SLURM_PARTITION": "debug", "HAICPRED_SLURM_ACCOUNT": "haicpred"}
RUN_TIMEOUT_S = 900  # about 2 minutes on the 2-core CI machine; a stuck run fails, not hangs
NODE_ACCEPTS_JOBS = re.compile(r"(idle|mix|alloc)")  # a trailing * or ~ means not responding


def slurm_unavailable() -> str | None:
    """Why this machine cannot submit SLURM jobs from snakemake, or None when it can."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')"
    if shutil.which("sbatch") is None:
        return "SLURM is not installed (no sbatch); `.ci/slurm.sh up` starts a one-node cluster"

    def ask(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run(command, capture_output=True, text=True, timeout=60)

    ping = ask("scontrol", "ping")
    if ping.returncode != 0 or " is UP" not in ping.stdout:
        lines = (ping.stdout + ping.stderr).strip().splitlines()
        answer = lines[-1] if lines else f"exit code {ping.returncode}"
        return f"slurmctld is not answering ({answer}); `.ci/slurm.sh up` starts a one-node cluster"
    nodes = ask("sinfo", "--noheader", "--format=%t")
    if not any(NODE_ACCEPTS_JOBS.fullmatch(state) for state in nodes.stdout.split()):
        return f"no SLURM node accepts jobs (sinfo node states: {nodes.stdout.split()})"
    return None


@pytest.fixture(scope="session")  # session, as demo_run: so it is checked before that runs
def slurm():
    reason = slurm_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the SLURM test)")
        pytest.skip(reason)


def snakemake_on_slurm(workdir: Path) -> subprocess.CompletedProcess:
    """`snakemake --profile profiles/slurm` with only what this machine needs on top."""
    env = {**CI_CLUSTER, **os.environ}
    # the jobs re-run snakemake on the node: with this test's Python environment first on PATH
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    command = [
        # snakemake waits for its jobs on SIGTERM: the KILL 30 s later ends a stuck run
        "timeout", "-k", "30", str(RUN_TIMEOUT_S),
        sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
        "--profile", str(REPO / "profiles" / "slurm"),
        # no conda here: the profile's `conda` is replaced by env-modules, which no rule
        # declares, so the jobs run in this Python environment
        "--software-deployment-method", "env-modules",
        # a small run: the plugin's 40 s wait before its first status check would dominate
        "--slurm-init-seconds-before-status-checks", "5",
    ]
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True)


def test_slurm_run_is_byte_identical_to_a_local_run(slurm, demo_run, tmp_path):
    """demo_run is the local `--cores 2` run (conftest.py); the SLURM run uses its config."""
    workdir = tmp_path / "slurm"
    (workdir / "config").mkdir(parents=True)
    shutil.copy(demo_run / "config" / "config.yaml", workdir / "config" / "config.yaml")

    result = snakemake_on_slurm(workdir)
    log = result.stdout + result.stderr
    assert result.returncode != 124, f"no result within {RUN_TIMEOUT_S} s:\n{log[-3000:]}"
    assert result.returncode == 0, log[-3000:]

    submitted = set(re.findall(r"slurm_logs/rule_(\w+)/", log))
    assert {"simulate_demo_cohort", "panel_mutations", "snp_genotypes", "baseline_biomarkers",
            "radiomic_features", "feature_matrix", "cross_validate_models",
            "report"} <= submitted, submitted
    assert not submitted & {"merge_batch_features", "merge_variant_audit"}  # local rules
    for name in DETERMINISTIC:
        assert digest(workdir / name) == digest(demo_run / name), name
