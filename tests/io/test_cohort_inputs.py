"""A user's cohort through `snakemake --configfile` and `haicpred validate`, as users run them
(issue 13: --configfile with one and two files, every problem in one report, a feature-only
run without outcomes, broken configs and non-VCF files, master tables)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from haicpred.simulate import simulate_cohort
from haicpred.io.tables import read_tsv, write_tsv
from workflow_helpers import FAST_MODEL, PANEL, SNPS, snakemake

MATRIX = "results/features/feature_matrix.tsv"
OUTCOMES = ["best_response", "os_months", "os_event", "pfs_months", "pfs_event"]


def haicpred(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "haicpred.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    """60 simulated patients in two batches of 30 (VCFs, labs in mixed units, radiomics)."""
    folder = tmp_path_factory.mktemp("simulated") / "cohort"
    simulate_cohort(n_patients=60, n_batches=2, seed=5, out_dir=folder, panel_path=PANEL,
                    snps_path=SNPS)
    return folder


def one_batch(source: Path, target: Path, batch: str = "batch1", master: bool = True,
              ) -> dict[str, str]:
    """A sheet of one batch; the clinical, biomarker and radiomics tables are the lab's master
    tables holding every patient (master=True) or only the batch's. Returns config paths."""
    target.mkdir(parents=True)
    sheet = read_tsv(source / "samples.tsv")
    sheet = sheet[sheet["batch"] == batch].copy()
    for column in ["exome_vcf", "genotype_vcf"]:
        sheet[column] = sheet[column].map(lambda p: str(source / p), na_action="ignore")
    write_tsv(sheet, target / "samples.tsv")
    for name in ["clinical", "biomarkers", "radiomics"]:
        table = read_tsv(source / f"{name}.tsv")
        if not master:
            table = table[table["sample_id"].isin(sheet["sample_id"])]
        write_tsv(table, target / f"{name}.tsv")
    return {name: str(target / f"{name}.tsv")
            for name in ["samples", "clinical", "biomarkers", "radiomics"]}


def config_file(path: Path, **settings) -> Path:
    """A cohort config outside any config/ folder (the workflow's shipped one is not used)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"panel": str(PANEL), "snps": str(SNPS), **settings}))
    return path


def shown(result: subprocess.CompletedProcess) -> str:
    """What the user sees on the terminal (snakemake prints a dry run's errors on stdout)."""
    return result.stdout + result.stderr


def job_counts(plan: str) -> dict[str, int]:
    table = plan[plan.index("Job stats:"):]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.MULTILINE)}


# --- findings 1 and 13: --configfile, master tables -------------------------------------------

def test_configfile_runs_one_batch_of_master_tables_end_to_end(simulated, tmp_path):
    inputs = one_batch(simulated, tmp_path / "lab")
    model = {**FAST_MODEL, "tuning": {"enabled": False}}  # tuning is not what is tested here
    cohort = config_file(tmp_path / "my_cohort.yaml", **inputs, model=model)
    workdir = tmp_path / "run"
    workdir.mkdir()
    result = snakemake(workdir, "--configfile", str(cohort))
    assert result.returncode == 0, result.stderr[-3000:]
    assert not (workdir / "config").exists()  # nothing but the given file configured it

    batch = set(read_tsv(inputs["samples"])["sample_id"])
    others = set(read_tsv(inputs["clinical"])["sample_id"]) - batch
    assert len(batch) == 30 and len(others) == 30
    matrix = read_tsv(workdir / MATRIX)
    assert set(matrix["sample_id"]) == batch  # the other batch's patients never reach a feature
    assert set(read_tsv(workdir / "results/features/labels.tsv")["sample_id"]) == batch
    assert set(read_tsv(workdir / "results/model/oof_predictions.tsv")["sample_id"]) <= batch
    assert (workdir / "results/report/report.html").is_file()
    # counted and named in the log of the job that reads them, and at the start of the run
    log = (workdir / "logs/feature_matrix.log").read_text()
    first = sorted(others)[0]
    assert f"clinical table: 30 row(s) of 30 patient(s) not in the sample sheet left out " \
           f"({first}," in log
    assert "biomarker table: " in log and "radiomics table: " in log
    biomarker_rows = read_tsv(inputs["biomarkers"])["sample_id"].isin(others).sum()
    assert f"{inputs['biomarkers']}: {biomarker_rows} row(s) of 30 patient(s) not in the " \
           "sample sheet left out" in shown(result)


def test_two_configfiles_the_second_overrides_and_its_errors_name_it(simulated, tmp_path):
    inputs = one_batch(simulated, tmp_path / "lab", master=False)
    base = config_file(tmp_path / "configs" / "cohort.yaml", **inputs, model=FAST_MODEL,
                       genomics={"shard_size": 100})
    site = tmp_path / "configs" / "site.yaml"
    site.write_text("genomics:\n  shard_size: 10\n")
    workdir = tmp_path / "run"
    workdir.mkdir()

    one = snakemake(workdir, "--dry-run", "--configfile", str(base))
    assert one.returncode == 0, one.stderr[-3000:]
    assert job_counts(one.stdout)["panel_mutations"] == 1  # 30 patients, shards of 100
    two = snakemake(workdir, "--dry-run", "--configfile", str(base), str(site))
    assert two.returncode == 0, two.stderr[-3000:]
    assert job_counts(two.stdout)["panel_mutations"] == 3  # the second file's shards of 10
    assert job_counts(two.stdout)["cross_validate_models"] == 1  # the rest of the first's plan

    site.write_text("genomics:\n  shard_sise: 10\n")  # a misspelled key in the second file
    bad = snakemake(workdir, "--dry-run", "--configfile", str(base), str(site))
    assert bad.returncode != 0
    assert f"{site}: genomics: key 'shard_sise': is not a known setting (did you mean " \
           "'shard_size'?)" in shown(bad)
    assert f"{base}: genomics" not in shown(bad) and "Traceback" not in shown(bad)
    # haicpred validate reads the same two files the same way
    checked = haicpred("validate", "--config", str(base), "--config", str(site))
    assert checked.returncode == 2 and f"{site}: genomics: key 'shard_sise'" in checked.stderr


def test_near_miss_ids_and_a_foreign_table_are_refused_naming_row_id_and_sample(simulated,
                                                                                 tmp_path):
    inputs = one_batch(simulated, tmp_path / "lab")
    sheet = sorted(read_tsv(inputs["samples"])["sample_id"])
    clinical = read_tsv(inputs["clinical"])
    row = int(clinical.index[clinical["sample_id"] == sheet[2]][0]) + 1
    clinical.loc[clinical["sample_id"] == sheet[2], "sample_id"] = sheet[2].lower()
    write_tsv(clinical, inputs["clinical"])
    biomarkers = read_tsv(inputs["biomarkers"])
    typo = sheet[4][:3] + sheet[4][4:]  # HCC00005 -> HCC0005: one character dropped
    rows = biomarkers.index[biomarkers["sample_id"] == sheet[4]] + 1
    biomarkers.loc[biomarkers["sample_id"] == sheet[4], "sample_id"] = typo
    write_tsv(biomarkers, inputs["biomarkers"])
    radiomics = read_tsv(inputs["radiomics"])
    radiomics["sample_id"] = "X" + radiomics["sample_id"]  # another cohort's file
    write_tsv(radiomics, inputs["radiomics"])
    cohort = config_file(tmp_path / "my_cohort.yaml", **inputs, model=FAST_MODEL)
    workdir = tmp_path / "run"
    workdir.mkdir()

    result = snakemake(workdir, "--configfile", str(cohort))
    checked = haicpred("validate", "--config", str(cohort))
    assert result.returncode != 0 and checked.returncode == 2
    listed = ", ".join(map(str, rows[:10]))
    for text in (shown(result), checked.stderr):
        assert f"{inputs['clinical']}: row {row}, sample_id '{sheet[2].lower()}': differs from " \
               f"sheet sample '{sheet[2]}' only by case, which has no row in this table" in text
        assert f"{inputs['biomarkers']}: rows {listed}" in text
        assert f"sample_id '{typo}': differs from sheet sample '{sheet[4]}' by one character, " \
               "which has no row in this table" in text
        assert f"{inputs['radiomics']}: sample_id: shares no patient with the sample sheet" in text
        assert "Traceback" not in text
    assert not (workdir / "results").exists()


# --- finding 5: one report, schema and content alike ------------------------------------------

def test_one_run_lists_every_schema_and_content_problem(simulated, tmp_path):
    inputs = one_batch(simulated, tmp_path / "lab", master=False)
    sheet = sorted(read_tsv(inputs["samples"])["sample_id"])
    biomarkers = read_tsv(inputs["biomarkers"])
    albumin = biomarkers.index[(biomarkers["analyte"] == "albumin")
                               & (biomarkers["timepoint"] == "baseline")]
    biomarkers.loc[albumin[0], "unit"] = None  # albumin needs a unit (inr would not)
    biomarkers.loc[albumin[5], "value"] = "<5"  # schema: not a number
    biomarkers.loc[albumin[1], "unit"] = "kg"  # content: a unit albumin cannot have
    biomarkers.loc[albumin[2], "value"] = "-3.5"  # content: impossible
    biomarkers = pd.concat([biomarkers, biomarkers.loc[[albumin[3]]],  # content: a duplicate
                            biomarkers.loc[[albumin[4]]].assign(sample_id=sheet[0].lower())],
                           ignore_index=True)  # ID matching: a near miss of a sheet sample
    write_tsv(biomarkers, inputs["biomarkers"])
    clinical = read_tsv(inputs["clinical"])
    clinical.loc[1, "age"] = "old"  # schema, another table
    write_tsv(clinical, inputs["clinical"])
    cohort = config_file(tmp_path / "my_cohort.yaml", **inputs)
    workdir = tmp_path / "run"
    workdir.mkdir()

    expected = [
        f"{inputs['biomarkers']}: row {albumin[0] + 1}, column unit: unit is empty; albumin "
        "needs one",
        f"{inputs['biomarkers']}: row {albumin[5] + 1}, column value: '<5' is not of type "
        "'number'",
        f"{inputs['biomarkers']}: row {albumin[1] + 1}: unit 'kg' is not accepted for albumin",
        f"{inputs['biomarkers']}: row {albumin[2] + 1} (sample "
        f"{biomarkers.loc[albumin[2], 'sample_id']}): albumin = -3.5",
        f"{inputs['biomarkers']}: rows {albumin[3] + 1}, {len(biomarkers) - 1}: sample_id "
        f"{biomarkers.loc[albumin[3], 'sample_id']}, analyte albumin, timepoint baseline occurs "
        "more than once",
        f"{inputs['biomarkers']}: row {len(biomarkers)}, sample_id '{sheet[0].lower()}': "
        f"differs from sheet sample '{sheet[0]}' only by case",
        f"{inputs['clinical']}: row 2, column age: 'old' is not of type 'number'",
    ]
    checked = haicpred("validate", "--config", str(cohort))
    result = snakemake(workdir, "--configfile", str(cohort))
    assert checked.returncode == 2 and result.returncode != 0
    for text in (checked.stderr, shown(result)):
        missing = [line for line in expected if line not in text]
        assert not missing, f"not reported: {missing}\n{text[-4000:]}"
        assert "7 input problem(s) found" in text and "Traceback" not in text
    assert not (workdir / "results").exists()


# --- finding 9: features need no outcomes ------------------------------------------------------

def test_feature_only_run_needs_no_outcomes_but_a_model_does(simulated, tmp_path):
    inputs = one_batch(simulated, tmp_path / "lab", master=False)
    clinical = read_tsv(inputs["clinical"])
    write_tsv(clinical.drop(columns=OUTCOMES), inputs["clinical"])
    cohort = config_file(tmp_path / "my_cohort.yaml", **inputs, model=FAST_MODEL)
    workdir = tmp_path / "run"
    workdir.mkdir()

    full = snakemake(workdir, "--configfile", str(cohort))
    assert full.returncode != 0
    assert f"config: endpoint (objective_response): needs column 'best_response', which the " \
           f"clinical table {inputs['clinical']} does not have" in shown(full)
    assert not (workdir / "results").exists()  # refused while the plan was built

    checked = haicpred("validate", "--config", str(cohort))
    assert checked.returncode == 2 and "needs column 'best_response'" in checked.stderr
    checked = haicpred("validate", "--config", str(cohort), "--features-only")
    assert checked.returncode == 0 and "all inputs are valid" in checked.stdout

    features = snakemake(workdir, MATRIX, "--configfile", str(cohort))  # nargs+: target first
    assert features.returncode == 0, features.stderr[-3000:]
    matrix = read_tsv(workdir / MATRIX)
    assert set(matrix["sample_id"]) == set(clinical["sample_id"])
    assert read_tsv(workdir / "results/features/labels.tsv")["objective_response"].isna().all()
    assert not (workdir / "results/model").exists()


# --- finding 12: broken configs, files that are not VCFs --------------------------------------

def test_variant_files_are_told_from_other_files_by_their_first_bytes(tmp_path):
    import gzip

    import pysam

    from haicpred.io.samples import not_variant_content

    text = ("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=248956422>\n"
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
            "chr1\t100\t.\tA\tG\t.\tPASS\t.\n")
    plain = tmp_path / "a.vcf"
    plain.write_text(text)
    pysam.tabix_compress(str(plain), str(tmp_path / "a.vcf.gz"))  # BGZF
    (tmp_path / "gzip.vcf.gz").write_bytes(gzip.compress(text.encode()))
    with pysam.VariantFile(str(plain)) as source, \
            pysam.VariantFile(str(tmp_path / "a.bcf"), "wb", header=source.header) as out:
        for record in source:
            out.write(record)
    raw = gzip.decompress((tmp_path / "a.bcf").read_bytes())  # uncompressed BCF (bcftools -Ou)
    assert raw.startswith(b"BCF\x02")
    (tmp_path / "u.bcf").write_bytes(raw)
    for name in ("a.vcf", "a.vcf.gz", "gzip.vcf.gz", "a.bcf", "u.bcf"):
        assert not_variant_content(str(tmp_path / name)) is None, name

    refused = {
        "passwd.vcf": (b"root:x:0:0:root:/root:/bin/bash\n", "it starts 'root:x:0:0:root:"),
        "empty.vcf": (b"", "it is empty, 0 bytes"),
        "text.vcf.gz": (gzip.compress(b"sample\tgenotype\n"), "gzip-compressed, starting"),
        "binary.vcf": (bytes(range(256)), "it starts"),
        "cut.vcf.gz": (b"\x1f\x8b\x08\x00garbage", "gzip data that does not decompress"),
    }
    for name, (content, message) in refused.items():
        (tmp_path / name).write_bytes(content)
        assert message in not_variant_content(str(tmp_path / name)), name


TAG = 'samples: !!python/object/apply:os.system ["touch {}"]\n'


def test_a_config_with_a_python_tag_or_bad_yaml_is_named_and_nothing_runs(simulated, tmp_path):
    pwned = tmp_path / "pwned"
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text(TAG.format(pwned))
    broken = tmp_path / "broken.yaml"
    broken.write_text("samples: cohort/samples.tsv\nmodel:\n\tcv_folds: 3\n")

    checked = haicpred("validate", "--config", str(tagged))
    assert checked.returncode == 2
    assert f"{tagged}: line 1, column 10: holds the YAML tag !!python/object/apply:os.system" \
           in checked.stderr
    checked = haicpred("validate", "--config", str(broken))
    assert checked.returncode == 2
    assert f"{broken}: line 3, column 1: is not valid YAML" in checked.stderr
    assert "Traceback" not in checked.stderr

    # the workflow's own config/config.yaml: read by haicpred before snakemake loads it
    workdir = tmp_path / "run"
    (workdir / "config").mkdir(parents=True)
    shutil.copy(tagged, workdir / "config" / "config.yaml")
    result = snakemake(workdir, "--dry-run")
    assert result.returncode != 0
    assert "config/config.yaml: line 1, column 10: holds the YAML tag " \
           "!!python/object/apply:os.system" in shown(result)
    # a --configfile is loaded by snakemake itself before the workflow's code runs: its own
    # one-line message (no file, no line), no traceback, nothing executed
    (workdir / "config" / "config.yaml").unlink()
    for bad in (tagged, broken):
        result = snakemake(workdir, "--dry-run", "--configfile", str(bad))
        assert result.returncode != 0
        assert "Config file is not valid JSON or YAML" in shown(result)
        assert "Traceback" not in shown(result)
    # a tag snakemake's loader accepts (the function itself, not called): named by haicpred
    named = tmp_path / "named.yaml"
    named.write_text("samples: !!python/name:os.system\n")
    result = snakemake(workdir, "--dry-run", "--configfile", str(named))
    assert result.returncode != 0
    assert f"{named}: line 1, column 10: holds the YAML tag !!python/name:os.system" \
           in shown(result)
    assert not pwned.exists()


def test_a_sheet_naming_a_file_that_is_not_a_vcf_is_refused_at_validation(simulated, tmp_path):
    inputs = one_batch(simulated, tmp_path / "lab", master=False)
    sheet = read_tsv(inputs["samples"])
    row = int(sheet["exome_vcf"].notna().to_numpy().nonzero()[0][0])
    passwd = tmp_path / "lab" / "P.vcf.gz"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\n")
    sheet.loc[row, "exome_vcf"] = str(passwd)
    text_file = tmp_path / "lab" / "notes.vcf"
    text_file.write_text("genotypes to follow\n")
    sheet.loc[row + 1, "genotype_vcf"] = str(text_file)
    write_tsv(sheet, inputs["samples"])
    cohort = config_file(tmp_path / "my_cohort.yaml", **inputs, model=FAST_MODEL)
    workdir = tmp_path / "run"
    workdir.mkdir()

    checked = haicpred("validate", "--config", str(cohort))
    result = snakemake(workdir, "--configfile", str(cohort))
    assert checked.returncode == 2 and result.returncode != 0
    for text in (checked.stderr, shown(result)):
        assert f"{inputs['samples']}: row {row + 1} (sample {sheet.loc[row, 'sample_id']}), " \
               f"column exome_vcf: file {passwd} is not a VCF or BCF file (it starts " \
               "'root:x:0:0:root:/root:/bin/bash')" in text
        assert f"row {row + 2} (sample {sheet.loc[row + 1, 'sample_id']}), column " \
               f"genotype_vcf: file {text_file} is not a VCF or BCF file" in text
    assert not (workdir / "results").exists()  # no job ran
