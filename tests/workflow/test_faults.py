"""Faults and safety: a workflow killed mid-job reruns to byte-identical results; outputs are
written atomically; a failed job leaves no output a later run could take for complete and
touches no other batch; nothing in the workflow runs a shell on user text, loads YAML unsafely
or unpickles anything."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from haicpred.io import tables
from workflow_helpers import DETERMINISTIC, REPO, digest, make_workdir, snakemake

DEMO = {"n_patients": 60, "n_batches": 2, "seed": 5}
#: results compared between the interrupted-and-rerun workflow and an uninterrupted one
COMPARED = [*DETERMINISTIC, "results/features/labels.tsv", "results/model/cv_metadata.json",
            "results/model/final/model_metadata.json"]


# ----------------------------------------------------------------------------------------------
# Kill and rerun
# ----------------------------------------------------------------------------------------------

def test_killed_workflow_reruns_to_byte_identical_results(tmp_path):
    reference = make_workdir(tmp_path / "reference", demo=DEMO)
    result = snakemake(reference)
    assert result.returncode == 0, result.stderr[-3000:]

    workdir = make_workdir(tmp_path / "killed", demo=DEMO)
    process = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
         "--cores", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    log = workdir / "logs" / "cross_validate_models.log"
    deadline = time.monotonic() + 300
    try:
        while not log.exists():  # the model job (9 outputs) has started
            assert process.poll() is None, "the workflow ended before the model job started"
            assert time.monotonic() < deadline, "the model job never started"
            time.sleep(0.05)
        time.sleep(1.0)  # mid-way through cross-validation
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # snakemake and its job, at once
        process.wait()
    model = workdir / "results" / "model"
    assert not (model / "metrics.tsv").exists(), "killed too late: the model job had finished"
    assert os.listdir(workdir / ".snakemake" / "incomplete")  # Snakemake knows it was cut off
    assert not (model / "cv_metadata.json").exists()
    assert not (model / "final").exists()  # the final model waits for the CV's outputs

    # SIGKILL leaves Snakemake's lock: --unlock, then --rerun-incomplete redoes the cut job
    unlocked = snakemake(workdir, "--unlock")
    assert unlocked.returncode == 0, unlocked.stderr[-3000:]
    rerun = snakemake(workdir, "--rerun-incomplete")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "rule cross_validate_models" in rerun.stdout + rerun.stderr
    assert "rule simulate_demo_cohort" not in rerun.stdout + rerun.stderr  # done before the kill
    for name in COMPARED:
        assert digest(workdir / name) == digest(reference / name), name
    assert not list(workdir.rglob("*.tmp"))  # no temporary file of an atomic write left


# ----------------------------------------------------------------------------------------------
# Atomic writes
# ----------------------------------------------------------------------------------------------

def test_failed_rename_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "results" / "table.tsv"
    tables.write_tsv(pd.DataFrame({"sample_id": ["P1"], "x": [1.5]}), target)
    before = target.read_bytes()

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tables.os, "replace", failing_replace)
    with pytest.raises(OSError, match="No space left"):
        tables.write_tsv(pd.DataFrame({"sample_id": ["P1", "P2"], "x": [2.5, 3.5]}), target)
    assert target.read_bytes() == before  # the complete old table, not a mix
    assert os.listdir(target.parent) == ["table.tsv"]  # the temporary file was removed
    monkeypatch.undo()
    tables.write_bytes(b"new\n", tmp_path / "fresh" / "new.txt")
    assert os.listdir(tmp_path / "fresh") == ["new.txt"]


WRITER = textwrap.dedent("""
    import os, sys, time
    from haicpred.io import tables

    real_replace = os.replace

    def slow_replace(src, dst):
        print("written", flush=True)  # every byte is in the temporary file, not yet renamed
        time.sleep(60)
        real_replace(src, dst)

    tables.os.replace = slow_replace
    tables.write_bytes(b"new " * 2_000_000, sys.argv[1])
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_writer_killed_mid_write_leaves_the_old_file(tmp_path, sig):
    target = tmp_path / "matrix.tsv"
    target.write_bytes(b"old complete table\n")
    # SIGINT at its default in the writer, as from a terminal: a runner started in the
    # background (`cmd &` in a script) passes SIGINT on as ignored, and Python then installs
    # no KeyboardInterrupt handler, so the interrupt would never arrive
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(target)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stdout.readline().strip() == "written"
    process.send_signal(sig)
    process.wait(timeout=30)
    assert process.returncode != 0
    assert target.read_bytes() == b"old complete table\n"
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != "matrix.tsv")
    if sig == signal.SIGINT:
        assert leftovers == []  # an interrupt removes the temporary file
    else:
        # SIGKILL allows no clean-up: at most a hidden temporary file, never the target's name
        assert all(re.fullmatch(r"\.matrix\.tsv\..+\.tmp", name) for name in leftovers)


# ----------------------------------------------------------------------------------------------
# A failed job: no output left behind, other batches untouched
# ----------------------------------------------------------------------------------------------

def test_failed_job_leaves_no_output_and_other_batches_untouched(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "samples.tsv").write_text("sample_id\tbatch\nP1\tb1\nP2\tb2\n")
    (inputs / "clinical.tsv").write_text("sample_id\tage\tbest_response\nP1\t60\tPR\n"
                                         "P2\t70\tSD\n")
    (inputs / "biomarkers.tsv").write_text("sample_id\tanalyte\tvalue\tunit\ttimepoint\n"
                                           "P1\talbumin\t4\tg/dL\tbaseline\n")
    workdir = make_workdir(tmp_path / "run", **{name: str(inputs / f"{name}.tsv") for name in
                                                ("samples", "clinical", "biomarkers")})
    shard = {b: workdir / "results" / "features" / "shards" / b / "1" for b in ("b1", "b2")}
    # b2's panel_mutations job writes mutations.tsv, then fails on its second output
    # (variants.tsv is in the way as a directory)
    (shard["b2"] / "variants.tsv").mkdir(parents=True)
    (shard["b2"] / "variants.tsv" / "keep").write_text("")
    matrix = "results/features/feature_matrix.tsv"  # (two patients are too few for a model)
    failed = snakemake(workdir, matrix, "--keep-going", "--cores", "1")
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "audit reasons" in (workdir / "logs/panel_mutations/b2.1.log").read_text()
    assert "Removing output files of failed job panel_mutations" in output
    assert not (shard["b2"] / "mutations.tsv").exists()  # written, then deleted by Snakemake
    assert not (workdir / matrix).exists()
    done = {name: (shard["b1"] / name).stat().st_mtime_ns
            for name in ("mutations.tsv", "variants.tsv", "genotypes.tsv")}

    (shard["b2"] / "variants.tsv" / "keep").unlink()
    (shard["b2"] / "variants.tsv").rmdir()
    rerun = snakemake(workdir, matrix, "--cores", "1")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = rerun.stdout + rerun.stderr
    assert "wildcards: batch=b2, shard=1" in log
    assert "wildcards: batch=b1, shard=1" not in log  # b1's jobs were not run again
    assert done == {name: (shard["b1"] / name).stat().st_mtime_ns for name in done}
    assert (workdir / matrix).exists()


# ----------------------------------------------------------------------------------------------
# Safety
# ----------------------------------------------------------------------------------------------

RULES = sorted((REPO / "workflow" / "rules").glob("*.smk")) + [REPO / "Snakefile"]
CODE = sorted([*(REPO / "src" / "haicpred").rglob("*.py"),
               *(REPO / "workflow").rglob("*.py"), *RULES])


def test_no_rule_runs_a_shell_command():
    """Every rule runs a script (`script:`); a `shell:` would put sheet values (wildcards,
    params) on a command line. Should one ever be added, every wildcard must be quoted."""
    for path in RULES:
        text = path.read_text()
        for match in re.finditer(r"^\s*shell:\s*\n?(?P<body>(?:\s+.+\n)+)", text, re.MULTILINE):
            for field in re.findall(r"\{(wildcards\.\w+|params\.\w+)\}", match["body"]):
                assert re.search(r"\{" + re.escape(field) + r":q\}", match["body"]), \
                    f"{path.name}: shell uses {{{field}}} unquoted (write {{{field}:q}})"
        assert not re.search(r"^\s*shell:", text, re.MULTILINE), f"{path.name} uses shell:"


def test_yaml_is_only_loaded_safely():
    for path in CODE:
        for line_no, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"yaml\.(load|load_all)\(", line):
                assert "SafeLoader" in line, f"{path}:{line_no}: {line.strip()}"
            assert not re.search(r"yaml\.(unsafe_load|full_load)|yaml\.(Unsafe|Full)?Loader\b",
                                 line), f"{path}:{line_no}: {line.strip()}"


def test_nothing_is_unpickled():
    pattern = re.compile(r"^\s*(import|from)\s+(c?pickle|joblib|dill|cloudpickle|shelve)\b"
                         r"|\b(pickle|joblib|dill|cloudpickle)\.(load|loads)\b|pd\.read_pickle")
    for path in CODE:
        for line_no, line in enumerate(path.read_text().splitlines(), start=1):
            assert not pattern.search(line), f"{path}:{line_no}: {line.strip()}"


def test_hostile_sample_ids_are_refused_and_nothing_runs(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    hostile = ["P1;rm -rf x", "$(touch pwned)", "`touch pwned2`"]
    (inputs / "samples.tsv").write_text(
        "sample_id\tbatch\n" + "".join(f"{sid}\tb1\n" for sid in hostile))
    (inputs / "clinical.tsv").write_text(
        "sample_id\tage\n" + "".join(f"{sid}\t60\n" for sid in hostile))
    (inputs / "biomarkers.tsv").write_text("sample_id\tanalyte\tvalue\tunit\ttimepoint\n")
    workdir = make_workdir(tmp_path / "run", **{name: str(inputs / f"{name}.tsv") for name in
                                                ("samples", "clinical", "biomarkers")})
    (workdir / "x").write_text("still here")
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
                             "-d", str(workdir), "--cores", "1"],
                            cwd=workdir, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    sheet = str(inputs / "samples.tsv")
    for row, sid in enumerate(hostile, start=1):
        assert f"{sheet}: row {row}, column sample_id: '{sid}' does not match " \
               "'^[A-Za-z0-9][A-Za-z0-9._-]*$'" in output
    assert not list(tmp_path.rglob("pwned*")) and not list(Path.cwd().glob("pwned*"))
    assert (workdir / "x").read_text() == "still here"
    assert not (workdir / "results").exists()
