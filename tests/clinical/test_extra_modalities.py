"""Extra numeric modalities (config `extra_modalities`): validation, joining, name clashes, and
one end-to-end Snakemake run on a small user cohort."""

import math

import pandas as pd
import pytest
import yaml

from haicpred.clinical.clinical_table import read_clinical
from haicpred.cohort import cohort_problems, load_config
from haicpred.io.errors import InputError
from haicpred.clinical.extra_modalities import (check_extra_modality, modality_name_problems,
                                                read_extra_modalities)
from haicpred.features.matrix import build_feature_matrix
from haicpred.simulate import simulate_cohort
from haicpred.io.tables import read_tsv, write_tsv
from workflow_helpers import PANEL, SNPS, make_workdir, snakemake


def write(path, text):
    path.write_text(text)
    return path


CLINICAL = ("sample_id\tage\tsex\tbest_response\n"
            "P1\t60\tM\tPR\n"
            "P2\t55\tF\tPD\n"
            "P3\t70\tM\tSD\n")
IHC = ("sample_id\tCD8\tPD-L1.tps\n"
       "P2\t120.5\t\n"
       "P1\t30\t0.25\n")


def matrix_inputs(tmp_path):
    """Sheet, clinical table and empty genomic/biomarker features for P1..P3."""
    sheet = pd.DataFrame({"sample_id": ["P1", "P2", "P3"], "batch": ["b1", "b1", "b2"]})
    clinical = read_clinical(write(tmp_path / "clinical.tsv", CLINICAL))
    mutations = pd.DataFrame({"sample_id": ["P1", "P2"], "ARID1B_mutated": ["1", "0"],
                              "fohaic1_mutation_positive": ["1", "0"]})
    genotypes = pd.DataFrame({"sample_id": ["P1"], "rs8099917_alt_count": ["0"],
                              "rs8099917_TT": ["1"]})
    biomarkers = pd.DataFrame({"sample_id": ["P2"], "afp": [12.0], "albi_score": [-2.8]})
    return dict(sheet=sheet, clinical=clinical, mutations=mutations, genotypes=genotypes,
                biomarkers=biomarkers, radiomics=None)


def modality(tmp_path, name, text, file=None):
    path = write(tmp_path / (file or f"{name}.tsv"), text)
    return read_extra_modalities({name: str(path)})[0]


# --- validation -------------------------------------------------------------------------------

def test_every_problem_of_a_table_is_listed_with_file_row_and_column(tmp_path):
    path = write(tmp_path / "ihc.tsv",
                 "sample_id\tCD8\tKi 67\tCD8\t_x\n"
                 "P1\t12\t3\t4\t5\n"
                 "-bad\thigh\t3\t4\t5\n"
                 "P1\t7\t3\t4\t5\n"
                 "P4\tinf\t3\t4\t5\n")
    table, problems = check_extra_modality(path)
    text = "\n".join(map(str, problems))
    assert all(p.file == str(path) for p in problems)
    assert "row 2, column sample_id" in text  # -bad: not a valid sample_id
    assert "row 2, column CD8: 'high' is not of type 'number'" in text
    assert "row 4, column CD8: 'inf' is not of type 'number'" in text
    assert "column Ki 67: unknown column (feature columns are named with letters" in text
    assert "column _x: unknown column" in text
    assert "column CD8: occurs more than once in the header" in text
    assert "rows 1, 3: sample_id P1 occurs more than once (keep one row per patient)" in text
    assert len(problems) == 7
    assert table is not None


def test_empty_cells_are_missing_not_errors_and_a_table_needs_features(tmp_path):
    _, problems = check_extra_modality(write(tmp_path / "ok.tsv", IHC))
    assert problems == []
    _, problems = check_extra_modality(write(tmp_path / "ids_only.tsv", "sample_id\nP1\n"))
    assert [p.message for p in problems] == ["no feature columns"]
    table, problems = check_extra_modality(tmp_path / "absent.tsv")
    assert table is None and "does not exist" in str(problems[0])
    table, problems = check_extra_modality(write(tmp_path / "no_id.tsv", "id\tCD8\nP1\t3\n"))
    assert table is None and "missing column(s): sample_id" in str(problems[0])


def test_all_files_and_names_are_checked_before_raising(tmp_path):
    good = write(tmp_path / "good.tsv", IHC)
    bad = write(tmp_path / "bad.tsv", "sample_id\tx\nP1\tone\n")
    with pytest.raises(InputError) as caught:
        read_extra_modalities({"ihc": str(bad), "clinical": str(good),
                               "post_ihc": str(good), "Expr": str(good)})
    text = str(caught.value)
    assert f"{bad}: row 1, column x" in text
    assert "extra_modalities: clinical: is a built-in modality" in text
    assert "extra_modalities: post_ihc: would name its features post_*" in text
    assert "extra_modalities: Expr: is not a valid modality name" in text
    assert modality_name_problems("ihc_2") == []


def test_config_schema_takes_a_map_of_names_to_paths(tmp_path):
    assert load_config(write(tmp_path / "none.yaml", "{}"))["extra_modalities"] == {}
    config = load_config(write(tmp_path / "ok.yaml", "extra_modalities: {ihc: cohort/ihc.tsv}"))
    assert config["extra_modalities"] == {"ihc": "cohort/ihc.tsv"}
    for bad in ["{radiomics: r.tsv}", "{IHC: r.tsv}", "{2ihc: r.tsv}", "{ihc: [a.tsv]}",
                "[ihc.tsv]"]:
        with pytest.raises(Exception):
            load_config(write(tmp_path / "bad.yaml", f"extra_modalities: {bad}"))


# --- joining ----------------------------------------------------------------------------------

def test_columns_join_as_their_own_modality_and_missing_rows_stay_missing(tmp_path):
    ihc = modality(tmp_path, "ihc", IHC)
    expression = modality(tmp_path, "expr", "sample_id\tGPC3\nP3\t-1.5\n")
    matrix, dictionary, _ = build_feature_matrix(**matrix_inputs(tmp_path),
                                                 extra_modalities=[ihc, expression])
    assert list(matrix.columns[-3:]) == ["ihc_CD8", "ihc_PD-L1.tps", "expr_GPC3"]
    assert list(dictionary["feature"]) == list(matrix.columns[2:])
    values = matrix.set_index("sample_id")
    assert values.loc["P1", "ihc_CD8"] == 30 and values.loc["P2", "ihc_CD8"] == 120.5
    assert values.loc["P1", "ihc_PD-L1.tps"] == 0.25
    assert math.isnan(values.loc["P2", "ihc_PD-L1.tps"])  # empty cell
    assert values.loc[["P3"], ["ihc_CD8", "ihc_PD-L1.tps"]].isna().all(axis=None)  # no row
    assert values.loc[["P1", "P2"], "expr_GPC3"].isna().all()
    assert values.loc["P3", "expr_GPC3"] == -1.5
    assert values["ihc_CD8"].dtype == float
    rows = dictionary.set_index("feature")
    assert rows.loc["ihc_CD8", "modality"] == "ihc" and rows.loc["expr_GPC3", "modality"] == "expr"
    assert rows.loc["ihc_CD8", "unit"] == ""
    assert "ihc.tsv" in rows.loc["ihc_PD-L1.tps", "description"]
    assert "PD-L1.tps" in rows.loc["ihc_PD-L1.tps", "description"]
    # without extra modalities the matrix is what it was
    plain, plain_dictionary, _ = build_feature_matrix(**matrix_inputs(tmp_path))
    assert list(plain.columns) == list(matrix.columns[:-3])
    assert plain.equals(matrix[plain.columns])


def test_a_sample_not_in_the_sheet_is_left_out_and_a_near_miss_refused(tmp_path):
    master = modality(tmp_path, "ihc", "sample_id\tCD8\nP1\t1\nQ19\t2\n")
    matrix, _, _ = build_feature_matrix(**matrix_inputs(tmp_path), extra_modalities=[master])
    assert matrix["sample_id"].tolist() == ["P1", "P2", "P3"]
    assert matrix["ihc_CD8"].tolist()[0] == 1 and matrix["ihc_CD8"].isna().tolist()[1:] == [
        True, True]
    typo = modality(tmp_path, "ihc2", "sample_id\tCD8\nP1\t1\np2\t2\n")
    with pytest.raises(InputError, match=r"ihc2.tsv: row 2, sample_id 'p2': differs from sheet "
                                         r"sample 'P2' only by case"):
        build_feature_matrix(**matrix_inputs(tmp_path), extra_modalities=[typo])


@pytest.mark.parametrize("name, column, clash", [
    ("albi", "score", "albi_score"),  # a biomarker index
    ("tumor", "size_cm", "tumor_size_cm"),  # a clinical feature
    ("rs8099917", "TT", "rs8099917_TT"),  # a genotype flag
    ("fohaic1", "mutation_positive", "fohaic1_mutation_positive"),  # a mutation feature
])
def test_a_feature_name_used_by_a_built_in_feature_is_refused(tmp_path, name, column, clash):
    extra = modality(tmp_path, name, f"sample_id\t{column}\nP1\t1\n")
    with pytest.raises(InputError) as caught:
        build_feature_matrix(**matrix_inputs(tmp_path), extra_modalities=[extra])
    assert f"column {column}: feature name {clash} (modality {name}) is already used by a " \
           "built-in feature" in str(caught.value)


def test_two_extra_modalities_cannot_make_the_same_feature(tmp_path):
    first = modality(tmp_path, "ihc", "sample_id\tcd8_density\nP1\t1\n")
    second = modality(tmp_path, "ihc_cd8", "sample_id\tdensity\nP1\t2\n")
    with pytest.raises(InputError) as caught:
        build_feature_matrix(**matrix_inputs(tmp_path), extra_modalities=[first, second])
    assert ("ihc_cd8.tsv: column density: feature name ihc_cd8_density (modality ihc_cd8) is "
            f"already used by column cd8_density of {first.path}") in str(caught.value)


# --- the whole-cohort check -------------------------------------------------------------------

def test_cohort_check_lists_extra_table_problems_with_the_others(tmp_path):
    write(tmp_path / "samples.tsv", "sample_id\tbatch\nP1\tb1\nP2\tb1\nP3\tb1\n")
    write(tmp_path / "clinical.tsv", CLINICAL)
    write(tmp_path / "biomarkers.tsv", "sample_id\tanalyte\tvalue\tunit\ttimepoint\n"
                                       "P1\talbumin\t40\tg/L\tbaseline\n")
    write(tmp_path / "ihc.tsv", "sample_id\tCD8\nP1\tmany\nP7\t3\n")
    write(tmp_path / "albi.tsv", "sample_id\tscore\nP1\t1\n")
    write(tmp_path / "expr.tsv", "sample_id\tGPC3\nP2\t1.5\n")
    config = load_config(write(tmp_path / "config.yaml", yaml.safe_dump({
        "samples": str(tmp_path / "samples.tsv"), "clinical": str(tmp_path / "clinical.tsv"),
        "biomarkers": str(tmp_path / "biomarkers.tsv"), "panel": str(PANEL), "snps": str(SNPS),
        "extra_modalities": {"ihc": str(tmp_path / "ihc.tsv"), "albi": str(tmp_path / "albi.tsv"),
                             "expr": str(tmp_path / "expr.tsv")}})))
    text = "\n".join(map(str, cohort_problems(config)))
    assert f"{tmp_path / 'ihc.tsv'}: row 1, column CD8" in text
    # P7 is not a patient of the clinical table and one character from P2, which has no row
    assert (f"{tmp_path / 'ihc.tsv'}: row 2, sample_id 'P7': differs from sheet sample 'P2' by "
            "one character, which has no row in this table") in text
    assert "feature name albi_score (modality albi) is already used by a built-in" in text
    assert "expr.tsv" not in text  # a table covering only some samples is fine
    assert len(cohort_problems(config)) == 3


# --- end to end -------------------------------------------------------------------------------

def test_pipeline_joins_an_extra_modality_on_a_user_cohort(tmp_path):
    cohort = tmp_path / "cohort"
    simulate_cohort(n_patients=60, n_batches=2, seed=7, out_dir=cohort, panel_path=PANEL,
                    snps_path=SNPS)
    ids = sorted(read_tsv(cohort / "samples.tsv")["sample_id"])
    with_ihc, without_ihc = ids[:50], ids[50:]
    ihc = pd.DataFrame({"sample_id": with_ihc,
                        "CD8_density": [float(i % 7) * 10.5 for i in range(50)],
                        "PD-L1_tps": [i / 50 if i % 5 else None for i in range(50)]})
    write_tsv(ihc, cohort / "ihc.tsv")
    workdir = make_workdir(tmp_path / "run",
                           extra_modalities={"ihc": str(cohort / "ihc.tsv")},
                           **{key: str(cohort / f"{key}.tsv") for key in
                              ["samples", "clinical", "biomarkers", "radiomics"]})
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]

    matrix = read_tsv(workdir / "results/features/feature_matrix.tsv").set_index("sample_id")
    dictionary = read_tsv(workdir / "results/features/feature_dictionary.tsv")
    assert sorted(matrix.index) == ids
    assert list(dictionary["feature"]) == list(matrix.columns[1:])
    extra = dictionary[dictionary["modality"] == "ihc"]
    assert list(extra["feature"]) == ["ihc_CD8_density", "ihc_PD-L1_tps"]
    assert {"clinical", "biomarker", "mutation", "genotype", "radiomics"} <= set(
        dictionary["modality"])
    cd8 = matrix["ihc_CD8_density"].astype(float)
    assert cd8.loc[with_ihc].tolist() == ihc["CD8_density"].tolist()
    assert cd8.loc[without_ihc].isna().all()  # no row: missing, never 0
    assert (workdir / "results/model/metrics.tsv").stat().st_size > 0
    report = (workdir / "results/report/report.html").read_text()
    assert '<td class="text">ihc</td>' in report  # its own row in the data-availability table
