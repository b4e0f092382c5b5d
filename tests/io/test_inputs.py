"""The input contract: schemas, the sample sheet, clinical encoding and the feature matrix."""

import pandas as pd
import pytest

from haicpred.clinical.clinical_table import encode_clinical, labels, read_clinical
from haicpred.io.errors import InputError
from haicpred.features.matrix import build_feature_matrix
from haicpred.radiomics.features import radiomic_features, read_radiomics
from haicpred.io.samples import batch_records, read_sample_sheet


def write(path, text):
    path.write_text(text)
    return path


def test_sample_sheet_reports_every_problem_with_row_and_file(tmp_path):
    (tmp_path / "a.vcf.gz").write_text("")
    sheet = write(tmp_path / "samples.tsv",
                  "sample_id\tbatch\texome_vcf\ttumor_sample\n"
                  "P1\tb1\ta.vcf.gz\tT\n"
                  "P1\tb1\t\t\n"
                  "-bad\tb1\tmissing.vcf.gz\t\n"
                  "P4\tb2\t\tTUMOR\n")
    df, problems = read_sample_sheet(sheet)
    text = "\n".join(map(str, problems))
    assert all(p.file == str(sheet) for p in problems)
    assert "row 3, column sample_id" in text
    assert "sample_id P1 occurs more than once" in text and "rows 1, 2" in text
    assert "missing.vcf.gz does not exist" in text and "row 3 (sample -bad)" in text
    assert "row 4 (sample P4)" in text and "tumor_sample is set but exome_vcf and exome_maf are empty" in text
    assert "row 1 (sample P1), column exome_vcf: file " in text
    assert "a.vcf.gz is not a VCF or BCF file (it is empty, 0 bytes)" in text
    assert len(problems) == 5


def test_sample_sheet_resolves_paths_and_defaults_genotype_sample(tmp_path):
    (tmp_path / "vcf").mkdir()
    (tmp_path / "vcf" / "a.vcf.gz").write_text("##fileformat=VCFv4.2\n")  # sniffed, not read
    sheet = write(tmp_path / "samples.tsv",
                  "sample_id\tbatch\texome_vcf\tgenotype_vcf\tgenotype_sample\n"
                  "P2\tb1\t\tvcf/a.vcf.gz\tG2\n"
                  "P1\tb1\tvcf/a.vcf.gz\t\t\n"
                  "P3\tb2\t\t\t\n")
    df, problems = read_sample_sheet(sheet)
    assert problems == []
    records = batch_records(df, "b1")
    assert [r["sample_id"] for r in records] == ["P1", "P2"]
    assert records[0]["exome_vcf"] == str(tmp_path / "vcf" / "a.vcf.gz")
    assert records[0]["genotype_sample"] == "P1" and records[1]["genotype_sample"] == "G2"
    assert records[1]["exome_vcf"] is None and records[0]["tumor_sample"] is None


CLINICAL = ("sample_id\tage\tsex\tbclc\ttumor_number\tvascular_invasion\tcombination\t"
            "extrahepatic_metastasis\tbest_response\n"
            "P1\t60\tM\tC\t4\tVp3\tpd1_tki\t1\tPR\n"
            "P2\t\tF\tB\t2\tnone\tnone\t0\tPD\n"
            "P3\t70\t\t\t\t\t\t\t\n")


def test_clinical_encoding_keeps_missing_as_missing(tmp_path):
    clinical = read_clinical(write(tmp_path / "clinical.tsv", CLINICAL))
    enc = encode_clinical(clinical).set_index("sample_id")
    assert enc.loc["P1", "bclc"] == 3 and enc.loc["P1", "vp3_vp4"] == 1
    assert enc.loc["P1", "tumor_number_gt3"] == 1 and enc.loc["P2", "tumor_number_gt3"] == 0
    assert enc.loc["P1", "combination_pd1"] == 1 and enc.loc["P1", "combination_tki"] == 1
    assert enc.loc["P2", "combination_pd1"] == 0 and enc.loc["P2", "sex_male"] == 0
    assert enc.loc["P3"].drop("age").isna().all() and pd.isna(enc.loc["P2", "age"])
    lab = labels(clinical).set_index("sample_id")["objective_response"]
    assert lab["P1"] == 1 and lab["P2"] == 0 and pd.isna(lab["P3"])


def test_clinical_schema_errors_name_file_row_and_column(tmp_path):
    path = write(tmp_path / "clinical.tsv",
                 "sample_id\tage\tbclc\tbest_response\tcolour\n"
                 "P1\tsixty\tE\tPR\tred\n"
                 "P1\t50\tB\tresponder\tblue\n")
    with pytest.raises(InputError) as caught:
        read_clinical(path)
    text = str(caught.value)
    for expected in ["row 1, column age", "row 1, column bclc", "row 2, column best_response",
                     "column colour: unknown column", "sample_id P1 occurs more than once"]:
        assert expected in text
    assert str(path) in text


def test_radiomics_takes_the_largest_lesion_and_drops_diagnostics(tmp_path):
    path = write(tmp_path / "radiomics.tsv",
                 "sample_id\tlesion_id\tdiagnostics_Versions_PyRadiomics\t"
                 "original_shape_MeshVolume\toriginal_glcm_Contrast\n"
                 "P1\tL1\tv3.1.0\t100\t1.5\n"
                 "P1\tL2\tv3.1.0\t900\t7.5\n"
                 "P2\tL1\tv3.1.0\t50\t2.0\n")
    out = radiomic_features(read_radiomics(path)).set_index("sample_id")
    assert out.loc["P1", "rad_original_glcm_Contrast"] == 7.5
    assert out.loc["P1", "rad_n_lesions"] == 2 and out.loc["P2", "rad_n_lesions"] == 1
    assert not any("diagnostics" in c for c in out.columns)


def test_radiomics_refuses_non_pyradiomics_columns_and_text(tmp_path):
    path = write(tmp_path / "radiomics.tsv",
                 "sample_id\toriginal_glcm_Contrast\ttexture\nP1\thigh\t3\n")
    with pytest.raises(InputError) as caught:
        read_radiomics(path)
    assert "column texture: unknown column" in str(caught.value)
    assert "row 1, column original_glcm_Contrast" in str(caught.value)


def test_feature_matrix_has_every_sheet_sample_and_leaves_out_other_patients(tmp_path):
    clinical = read_clinical(write(tmp_path / "clinical.tsv", CLINICAL))
    sheet = pd.DataFrame({"sample_id": ["P1", "P2", "P3"], "batch": ["b1", "b1", "b2"]})
    mutations = pd.DataFrame({"sample_id": ["P1", "P2"], "ARID1B_mutated": ["1", "0"],
                              "fohaic1_mutation_positive": ["1", "0"]})
    genotypes = pd.DataFrame({"sample_id": ["P1"], "rs8099917_alt_count": ["0"],
                              "rs8099917_TT": ["1"]})
    biomarkers = pd.DataFrame({"sample_id": ["P2"], "afp": [12.0], "albi_grade": [1]})
    matrix, dictionary, label_table = build_feature_matrix(sheet, clinical, mutations, genotypes,
                                                           biomarkers, radiomics=None)
    assert matrix["sample_id"].tolist() == ["P1", "P2", "P3"]
    assert list(matrix.columns[:2]) == ["sample_id", "batch"]
    assert set(dictionary["feature"]) == set(matrix.columns[2:])
    assert set(dictionary["modality"]) >= {"clinical", "biomarker", "mutation", "genotype"}
    assert pd.isna(matrix.set_index("sample_id").loc["P3", "fohaic1_mutation_positive"])
    assert label_table["objective_response"].tolist()[:2] == [1, 0]

    # a master table: another batch's patient is left out, never a feature
    master = pd.DataFrame({"sample_id": ["P2", "Q17"], "afp": [12.0, 99.0]})
    kept, _, _ = build_feature_matrix(sheet, clinical, mutations, genotypes, master,
                                      radiomics=None)
    assert kept["sample_id"].tolist() == ["P1", "P2", "P3"]
    assert kept["afp"].tolist()[1] == 12.0 and 99.0 not in kept["afp"].tolist()
    # ... but a table of other patients only is the wrong file
    stranger = pd.DataFrame({"sample_id": ["Q9"], "afp": [1.0]})
    with pytest.raises(InputError, match="biomarker table: sample_id: shares no patient"):
        build_feature_matrix(sheet, clinical, mutations, genotypes, stranger, radiomics=None)
    # and an ID one character away from a sheet sample without a row of its own is a typo
    typo = pd.DataFrame({"sample_id": ["P2", "P01"], "afp": [12.0, 3.0]})
    with pytest.raises(InputError, match="row 2, sample_id 'P01': differs from sheet sample "
                                         "'P1' by one character, which has no row"):
        build_feature_matrix(sheet, clinical, mutations, genotypes, typo, radiomics=None)
    with pytest.raises(InputError, match="P3.*have no row"):
        build_feature_matrix(sheet, clinical[clinical.sample_id != "P3"], mutations, genotypes,
                             biomarkers, radiomics=None)


def test_big_batches_are_cut_into_shards_of_consecutive_samples():
    from haicpred.io.samples import SHEET_COLUMNS, batch_shards

    sheet = pd.DataFrame({"sample_id": [f"P{i:02d}" for i in range(7, 0, -1)] + ["Q1"],
                          "batch": ["b1"] * 7 + ["b2"]})
    for column in SHEET_COLUMNS[2:]:
        sheet[column] = pd.NA
    shards = batch_shards(sheet, "b1", 3)
    assert [[r["sample_id"] for r in shard] for shard in shards] == [
        ["P01", "P02", "P03"], ["P04", "P05", "P06"], ["P07"]]
    assert len(batch_shards(sheet, "b2", 3)) == 1


# --- optional clinical columns of real cohorts (issue 13 finding 7) --------------------------
# Each row worked out by hand from the contract (docs/inputs.md, "Clinical table").
REAL_CLINICAL = (
    "sample_id\ttumor_number\ttumor_number_group\tmultinodular\tvascular_invasion\t"
    "macrovascular_invasion\tmicrovascular_invasion\tpvtt\tecog\tecog_group\tajcc_stage\n"
    "Q01\t\t>3\t\t\t\t\t\t\t3-4\tIIIB\n"
    "Q02\t\t2-3\t\tpresent\t\t\t\t2\t\tIVA\n"
    "Q03\t\t1\t\tnone\t\t1\t\t0\t0\tI\n"
    "Q04\t\t\t1\t\t1\t\t\t\t1-2\tII\n"
    "Q05\t\t\t0\t\t0\t\t\t4\t\tIII\n"
    "Q06\t4\t>3\t1\tVp2\t\t\t1\t\t\tIV\n"
    "Q07\t3\t\t\t\t\t\t1\t\t\tIIIC\n"
    "Q08\t\t\t\t\t\t1\t0\t\t\t\n"
)
NAN = float("nan")
# tumor_number_gt3, multinodular, vascular_invasion, vp3_vp4, vascular_invasion_any,
# microvascular_invasion, pvtt, ecog, ecog_group, ajcc_stage
REAL_EXPECTED = {
    "Q01": (1, 1, NAN, NAN, NAN, NAN, NAN, NAN, 2, 3),
    "Q02": (0, 1, NAN, NAN, 1, NAN, NAN, 2, 1, 4),  # present: grade unknown, invasion known
    "Q03": (0, 0, 0, 0, 0, 1, NAN, 0, 0, 1),  # microvascular invasion is not counted
    "Q04": (NAN, 1, NAN, NAN, 1, NAN, NAN, NAN, 1, 2),  # multinodular: count unknown
    "Q05": (0, 0, NAN, NAN, 0, NAN, NAN, 4, 2, 3),  # one tumour; macrovascular 0
    "Q06": (1, 1, 2, 0, 1, NAN, 1, NAN, NAN, 4),
    "Q07": (0, 1, NAN, NAN, 1, NAN, 1, NAN, NAN, 3),  # pvtt 1 alone
    "Q08": (NAN, NAN, NAN, NAN, NAN, 1, 0, NAN, NAN, NAN),  # pvtt 0 alone says nothing
}
REAL_COLUMNS = ["tumor_number_gt3", "multinodular", "vascular_invasion", "vp3_vp4",
                "vascular_invasion_any", "microvascular_invasion", "pvtt", "ecog", "ecog_group",
                "ajcc_stage"]


def test_optional_clinical_columns_golden(tmp_path):
    clinical = read_clinical(write(tmp_path / "clinical.tsv", REAL_CLINICAL))
    encoded = encode_clinical(clinical).set_index("sample_id")
    got = encoded.loc[sorted(REAL_EXPECTED), REAL_COLUMNS].to_numpy(dtype=float)
    want = pd.DataFrame.from_dict(REAL_EXPECTED, orient="index").sort_index().to_numpy(float)
    for row, sample in enumerate(sorted(REAL_EXPECTED)):
        assert list(got[row]) == pytest.approx(list(want[row]), nan_ok=True), sample
    assert encoded.loc["Q04", "macrovascular_invasion"] == 1
    assert pd.isna(encoded.loc["Q01", "tumor_number"])  # a group is not a count


def test_new_clinical_features_are_appended_and_described():
    from haicpred.clinical.clinical_table import CLINICAL_FEATURES, clinical_dictionary

    names = list(CLINICAL_FEATURES)
    assert names[:names.index("combination_tki") + 1] == [
        "age", "sex_male", "ecog", "hbv", "hcv", "cirrhosis", "bclc", "tumor_size_cm",
        "tumor_size_ge7", "tumor_size_ge10", "tumor_number", "tumor_number_gt3",
        "vascular_invasion", "vp3_vp4", "hvtt", "extrahepatic_metastasis", "both_lobes",
        "arterial_hyperenhancement", "ascites", "encephalopathy", "combination_pd1",
        "combination_tki"]  # the order before the optional columns, unchanged
    assert names[names.index("combination_tki") + 1:] == [
        "vascular_invasion_any", "macrovascular_invasion", "microvascular_invasion", "pvtt",
        "multinodular", "ecog_group", "ajcc_stage"]
    dictionary = clinical_dictionary().set_index("feature")
    assert dictionary.loc["age", "description"] == "age at treatment start (years)"
    assert not dictionary["description"].str.contains("HAIC").any()
    assert dictionary["unit"].ne("").all()


def test_clinical_columns_recording_one_fact_twice_must_agree(tmp_path):
    path = write(tmp_path / "clinical.tsv",
                 "sample_id\ttumor_number\ttumor_number_group\tmultinodular\tecog\tecog_group\t"
                 "child_pugh_score\tchild_pugh_class\tvascular_invasion\tpvtt\n"
                 "P1\t2\t>3\t\t3\t1-2\t7\tA\tnone\t1\n"
                 "P2\t1\t1\t1\t2\t1-2\t10\tC\tVp3\t1\n"
                 "P3\t4\t>3\t1\t0\t0\t6\tA\tpresent\t0\n")
    with pytest.raises(InputError) as caught:
        read_clinical(path)
    hint = "(correct one of them, or leave the less exact one empty)"
    assert [str(p) for p in caught.value.problems] == [
        f"{path}: row {row}, columns {a} and {b}: disagree (row {row}: {a} {x}, {b} {y}) {hint}"
        for row, a, b, x, y in [
            (1, "tumor_number", "tumor_number_group", "2", ">3"),
            (2, "tumor_number", "multinodular", "1", "1"),
            (2, "tumor_number_group", "multinodular", "1", "1"),
            (1, "ecog", "ecog_group", "3", "1-2"),
            (1, "child_pugh_score", "child_pugh_class", "7", "A"),  # 7 is class B
            (1, "vascular_invasion", "pvtt", "none", "1"),
        ]]


@pytest.mark.parametrize("column, value, message", [
    ("vascular_invasion", "yes", "'yes' is not one of ['none', 'Vp1', 'Vp2', 'Vp3', 'Vp4', "
                                 "'present']"),
    ("tumor_number_group", "4+", "'4+' is not one of ['1', '2-3', '>3']"),
    ("multinodular", "2", "2 is not one of [0, 1]"),
    ("pvtt", "yes", "'yes' is not of type 'integer'"),
    ("ecog_group", "2", "'2' is not one of ['0', '1-2', '3-4']"),
    ("ajcc_stage", "IIIc", "'IIIc' is not one of ['I', 'II', 'IIIA', 'IIIB', 'IIIC', 'III', "
                           "'IVA', 'IVB', 'IV']"),
    ("child_pugh_score", "4", "4 is less than the minimum of 5"),
    ("child_pugh_score", "16", "16 is greater than the maximum of 15"),
    ("child_pugh_class", "D", "'D' is not one of ['A', 'B', 'C']"),
])
def test_optional_clinical_columns_refuse_bad_values_with_file_row_and_column(
        tmp_path, column, value, message):
    path = write(tmp_path / "clinical.tsv", f"sample_id\t{column}\nP1\t\nP2\t{value}\n")
    with pytest.raises(InputError) as caught:
        read_clinical(path)
    assert [str(p) for p in caught.value.problems] == [
        f"{path}: row 2, column {column}: {message} (fix the value, or leave the cell empty if "
        "unknown)"]


def test_disagreeing_columns_are_listed_with_the_schema_problems(tmp_path):
    path = write(tmp_path / "clinical.tsv",
                 "sample_id\tecog\tecog_group\tchild_pugh_score\tchild_pugh_class\n"
                 "P1\tfour\t3-4\t5\tC\n"
                 "P2\t1\t1 to 2\t\t\n")
    with pytest.raises(InputError) as caught:
        read_clinical(path)
    assert [p.where for p in caught.value.problems] == [
        "row 1, column ecog", "row 2, column ecog_group",
        "row 1, columns child_pugh_score and child_pugh_class"]
