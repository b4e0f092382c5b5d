"""Tests for haicpred.simulate: real simulated files, read back with pandas and pysam."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from scipy.stats import f_oneway
from sklearn.metrics import roc_auc_score
from sksurv.metrics import concordance_index_censored

from haicpred.genomics.vcf.build import infer_build
from haicpred.io.errors import InputError
from haicpred.simulate import simulate_cohort

RESOURCES = Path(__file__).parents[2] / "resources"
PANEL = RESOURCES / "panel_GRCh38.tsv"
SNPS = RESOURCES / "snps_GRCh38.tsv"
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# The contract from the brief, written out independently of the module's constants.
PROTEIN_ALTERING = {
    "missense_variant", "stop_gained", "stop_lost", "start_lost", "frameshift_variant",
    "inframe_insertion", "inframe_deletion", "splice_donor_variant", "splice_acceptor_variant",
}
UNITS = {
    "afp": {"ng/mL": 1.0, "IU/mL": 1.21}, "afp_l3": {"%": 1.0}, "dcp": {"mAU/mL": 1.0},
    "albumin": {"g/L": 1.0, "g/dL": 10.0}, "bilirubin": {"umol/L": 1.0, "mg/dL": 17.1},
    "ast": {"U/L": 1.0}, "alt": {"U/L": 1.0}, "ggt": {"U/L": 1.0}, "inr": {"ratio": 1.0},
    "platelets": {"10^9/L": 1.0, "/uL": 0.001}, "neutrophils": {"10^9/L": 1.0, "/uL": 0.001},
    "lymphocytes": {"10^9/L": 1.0, "/uL": 0.001}, "monocytes": {"10^9/L": 1.0, "/uL": 0.001},
    "crp": {"mg/L": 1.0, "mg/dL": 10.0}, "cholesterol": {"mmol/L": 1.0, "mg/dL": 1 / 38.67},
    "vegf": {"pg/mL": 1.0}, "transferrin": {"mg/dL": 1.0, "g/L": 100.0},
}
SAMPLE_COLUMNS = ["sample_id", "batch", "exome_vcf", "tumor_sample", "genotype_vcf",
                  "genotype_sample"]
CLINICAL_COLUMNS = [
    "sample_id", "age", "sex", "ecog", "hbv", "hcv", "cirrhosis", "bclc", "tumor_size_cm",
    "tumor_number", "vascular_invasion", "hvtt", "extrahepatic_metastasis", "both_lobes",
    "arterial_hyperenhancement", "ascites", "encephalopathy", "combination", "best_response",
    "os_months", "os_event", "pfs_months", "pfs_event",
]
OUTPUT_FILES = ["samples.tsv", "clinical.tsv", "biomarkers.tsv", "radiomics.tsv", "truth.tsv",
                "planted_effects.tsv", "genotypes.vcf.gz", "genotypes.vcf.gz.tbi"]


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------
def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The default demo: 300 patients, 3 batches, seed 1, repo resources."""
    out = tmp_path_factory.mktemp("demo") / "cohort"
    simulate_cohort(300, 3, 1, out, PANEL, SNPS)
    return out


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> Path:
    """2000 patients for the direction tests (repo resources, with GALNT14 rs9679162)."""
    out = tmp_path_factory.mktemp("large") / "cohort"
    simulate_cohort(2000, 3, 2, out, PANEL, SNPS)
    return out


def _labelled(out: Path) -> pd.DataFrame:
    clinical = _read(out / "clinical.tsv")
    clinical = clinical[clinical["best_response"] != ""].copy()
    clinical["y"] = clinical["best_response"].isin(["CR", "PR"]).astype(int)
    return clinical.set_index("sample_id")


def _baseline_canonical(out: Path) -> pd.DataFrame:
    table = _read(out / "biomarkers.tsv")
    table = table[table["timepoint"] == "baseline"]
    factor = [UNITS[a][u] for a, u in zip(table["analyte"], table["unit"])]
    table = table.assign(value=table["value"].astype(float) * np.asarray(factor))
    return table.pivot(index="sample_id", columns="analyte", values="value")


def _vep_allele(ref: str, alt: str) -> str:
    if len(ref) != len(alt) and ref[0] == alt[0]:
        return alt[1:] or "-"
    return alt


def _panel_calls(out: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Reference implementation of the FOHAIC-1 rule: sample -> positive, and why records fail."""
    panel = _read(PANEL)
    sheet = _read(out / "samples.tsv")
    positive, reasons = {}, {}
    for row in sheet.itertuples():
        if not row.exome_vcf:
            continue
        with pysam.VariantFile(str(out / row.exome_vcf)) as vcf:
            meta = {r.key: r.value for r in vcf.header.records if r.value}
            tumour = row.tumor_sample or meta["tumor_sample"]
            fields = vcf.header.info["CSQ"].description.split("Format: ")[1].split("|")
            hit = False
            for gene in panel.itertuples():
                for rec in vcf.fetch(gene.chrom, int(gene.start) - 1, int(gene.end)):
                    sample = rec.samples[tumour]
                    entries = [dict(zip(fields, e.split("|"))) for e in rec.info["CSQ"]]
                    for i, alt in enumerate(rec.alts, start=1):
                        terms = {t for e in entries if e["Allele"] == _vep_allele(rec.ref, alt)
                                 for t in e["Consequence"].split("&")}
                        why = [name for name, failed in [
                            ("filter", list(rec.filter.keys()) != ["PASS"]),
                            ("consequence", not terms & PROTEIN_ALTERING),
                            ("genotype", i not in sample["GT"]),
                            ("af", sample["AF"][i - 1] < 0.05),
                            ("depth", sample["DP"] < 10),
                        ] if failed]
                        key = "+".join(why) or "true"
                        if len(rec.alts) > 1:
                            key += " (multiallelic)"
                        reasons[key] = reasons.get(key, 0) + 1
                        hit = hit or not why
            positive[row.sample_id] = int(hit)
    return positive, reasons


def _rate(values: pd.Series) -> float:
    return float(values.mean())


# ---------------------------------------------------------------------------------------------
# Files and formats (demo cohort)
# ---------------------------------------------------------------------------------------------
def test_all_files_exist_and_no_staging_left(demo):
    for name in OUTPUT_FILES:
        assert (demo / name).is_file(), name
    assert not [p for p in demo.parent.iterdir() if p.name.startswith(".")]


def test_sample_sheet(demo):
    sheet = _read(demo / "samples.tsv")
    assert list(sheet.columns) == SAMPLE_COLUMNS
    assert len(sheet) == 300 and sheet["sample_id"].is_unique
    assert all(ID_PATTERN.match(s) for s in sheet["sample_id"])
    assert sheet["sample_id"].iloc[0] == "HCC00001"
    assert list(sheet["sample_id"]) == sorted(sheet["sample_id"])
    assert sheet["batch"].value_counts().to_dict() == {"batch1": 100, "batch2": 100,
                                                       "batch3": 100}
    exome = sheet["exome_vcf"] != ""
    assert 0.07 <= 1 - exome.mean() <= 0.13
    assert 0.2 <= (sheet.loc[exome, "tumor_sample"] == "").mean() <= 0.4
    assert (sheet.loc[~exome, "tumor_sample"] == "").all()
    assert 0.07 <= (sheet["genotype_vcf"] == "").mean() <= 0.13
    assert 0 < (sheet["genotype_sample"] != "").sum() < 0.2 * len(sheet)
    for path in sheet["exome_vcf"][exome]:
        assert not Path(path).is_absolute() and (demo / path).is_file()
        assert (demo / (path + ".tbi")).is_file()
    assert set(sheet.loc[exome, "exome_vcf"].str.split("/").str[1]) == {"batch1", "batch2",
                                                                        "batch3"}


def test_clinical_table(demo):
    clinical = _read(demo / "clinical.tsv")
    assert list(clinical.columns) == CLINICAL_COLUMNS
    assert len(clinical) == 300
    allowed = {
        "sex": {"M", "F"}, "ecog": {"0", "1", "2", "3", "4"}, "bclc": set("0ABCD"),
        "vascular_invasion": {"none", "Vp1", "Vp2", "Vp3", "Vp4"},
        "ascites": {"none", "mild", "severe"},
        "encephalopathy": {"none", "grade1-2", "grade3-4"},
        "combination": {"none", "pd1", "tki", "pd1_tki"},
        "best_response": {"CR", "PR", "SD", "PD"},
    }
    for column in ("hbv", "hcv", "cirrhosis", "hvtt", "extrahepatic_metastasis", "both_lobes",
                   "arterial_hyperenhancement", "os_event", "pfs_event"):
        allowed[column] = {"0", "1"}
    for column, values in allowed.items():
        present = set(clinical[column]) - {""}
        assert present <= values, (column, present - values)
    covariates = clinical[CLINICAL_COLUMNS[1:18]]
    assert 0.01 <= (covariates == "").to_numpy().mean() <= 0.035
    assert 0.01 <= (clinical["best_response"] == "").mean() <= 0.06
    for column in ("os_months", "pfs_months", "os_event", "pfs_event"):
        assert (clinical[column] != "").all()
    os_months, pfs_months = clinical["os_months"].astype(float), clinical["pfs_months"].astype(
        float)
    assert (pfs_months <= os_months).all() and (pfs_months > 0).all()
    size = clinical["tumor_size_cm"][clinical["tumor_size_cm"] != ""]
    assert size.str.fullmatch(r"\d+\.\d").all()
    assert (clinical["tumor_number"][clinical["tumor_number"] != ""].astype(int) >= 1).all()
    # Mostly HBV, mostly BCLC B/C; BCLC is C or D whenever invasion or metastasis is present.
    assert (clinical["hbv"] == "1").mean() > 0.6
    assert clinical["bclc"].isin(["B", "C"]).mean() > 0.7
    known = clinical[(clinical["bclc"] != "") & (clinical["vascular_invasion"] != "")
                     & (clinical["extrahepatic_metastasis"] != "")]
    advanced = (known["vascular_invasion"] != "none") | (known["extrahepatic_metastasis"] == "1")
    assert known.loc[advanced, "bclc"].isin(["C", "D"]).all()


def test_biomarkers_units_and_values(demo):
    table = _read(demo / "biomarkers.tsv")
    assert list(table.columns) == ["sample_id", "analyte", "value", "unit", "timepoint"]
    keys = list(zip(table["sample_id"], table["analyte"], table["timepoint"]))
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert set(table["timepoint"]) == {"baseline", "post"}
    assert set(table.loc[table["timepoint"] == "post", "analyte"]) == {"afp", "dcp"}
    assert set(table["analyte"]) == set(UNITS)
    for analyte, unit in zip(table["analyte"], table["unit"]):
        assert unit in UNITS[analyte], (analyte, unit)
    units = table.groupby("analyte")["unit"].unique()
    for analyte in ("afp", "albumin", "bilirubin", "neutrophils", "lymphocytes", "platelets"):
        assert len(units[analyte]) == 2, analyte  # both canonical and alternative units used
    # Nearly every patient has each baseline analyte, but not all (missing rows).
    baseline = table[table["timepoint"] == "baseline"]
    per_analyte = baseline.groupby("analyte")["sample_id"].nunique()
    assert (per_analyte >= 270).all() and (per_analyte < 300).any()
    # Canonical values are realistic and agree across labs (unit conversion matters).
    values = _baseline_canonical(demo)
    assert 0.3 <= (values["afp"] >= 400).mean() <= 0.5
    assert values["afp"].min() >= 1 and values["afp"].max() > 10_000
    assert 35 <= values["albumin"].median() <= 45
    assert 8 <= values["bilirubin"].median() <= 25
    assert 2 <= values["neutrophils"].median() <= 6 and 0.8 <= values["lymphocytes"].median() <= 2
    assert 80 <= values["platelets"].median() <= 300
    batch = _read(demo / "samples.tsv").set_index("sample_id")["batch"]
    for analyte in ("albumin", "bilirubin", "platelets", "crp", "cholesterol", "transferrin"):
        medians = values[analyte].groupby(batch).median()
        assert medians.max() / medians.min() < 1.3, (analyte, medians.to_dict())


def test_post_treatment_markers_follow_response(demo):
    table = _read(demo / "biomarkers.tsv")
    afp = table[table["analyte"] == "afp"].pivot(index="sample_id", columns="timepoint",
                                                 values="value").dropna().astype(float)
    assert len(afp) > 0.75 * 300
    labels = _labelled(demo)["y"]
    ratio = np.log(afp["post"] / afp["baseline"]).reindex(labels.index).dropna()
    by_response = ratio.groupby(labels.reindex(ratio.index)).median()
    assert by_response[1] < by_response[0] - 0.5


def test_radiomics_table(demo):
    table = pd.read_csv(demo / "radiomics.tsv", sep="\t")
    assert list(table.columns[:4]) == ["sample_id", "lesion_id",
                                       "diagnostics_Versions_PyRadiomics",
                                       "diagnostics_Mask-original_VoxelNum"]
    features = list(table.columns[4:])
    assert 35 <= len(features) <= 45
    for name in ("original_shape_MeshVolume", "original_shape_Sphericity",
                 "original_glcm_JointEntropy", "wavelet-LLH_firstorder_Mean",
                 "log-sigma-3-0-mm-3D_firstorder_Entropy"):
        assert name in features
    assert table[features].notna().all().all()
    assert set(table["lesion_id"]) <= {"L1", "L2", "L3"}
    assert table.groupby("sample_id").size().max() <= 3
    keys = list(zip(table["sample_id"], table["lesion_id"]))
    assert keys == sorted(keys)
    assert 0.1 <= 1 - table["sample_id"].nunique() / 300 <= 0.2
    # The largest lesion (by MeshVolume) matches the clinical tumour size (~ size^3).
    largest = table.loc[table.groupby("sample_id")["original_shape_MeshVolume"].idxmax()]
    largest = largest.set_index("sample_id")
    size = _read(demo / "clinical.tsv").set_index("sample_id")["tumor_size_cm"]
    size = size.reindex(largest.index)
    known = size != ""
    log_size = np.log(size[known].astype(float) * 10)
    assert np.corrcoef(np.log(largest.loc[known, "original_shape_MeshVolume"]),
                       3 * log_size)[0, 1] > 0.9
    assert (largest.loc[known, "original_shape_Maximum3DDiameter"]
            / (size[known].astype(float) * 10)).between(0.95, 1.2).all()
    # Lesion IDs are not ordered by size: the largest lesion is not always L1.
    several = table.groupby("sample_id").size() > 1
    assert (largest.loc[several[several].index, "lesion_id"] != "L1").any()


def test_radiomics_scanner_effects(demo):
    table = pd.read_csv(demo / "radiomics.tsv", sep="\t")
    batch = _read(demo / "samples.tsv").set_index("sample_id")["batch"]
    table["batch"] = table["sample_id"].map(batch)
    groups = [g for _, g in table.groupby("batch")]
    intensity = ["original_firstorder_Mean", "original_firstorder_Median",
                 "original_glcm_JointEntropy", "original_glszm_ZoneEntropy",
                 "wavelet-LLL_firstorder_Entropy"]
    for feature in intensity:
        assert f_oneway(*[g[feature] for g in groups]).pvalue < 1e-4, feature
    # Features are correlated among themselves (latent factors) within a scanner; pooled over
    # scanners the batch shifts (not all in the same direction) blur that.
    texture = ["original_firstorder_Entropy", "original_glcm_JointEntropy",
               "original_gldm_DependenceEntropy"]
    for group in groups:
        corr = group[texture].corr().to_numpy()
        assert (corr[np.triu_indices(3, 1)] > 0.5).all()
    shape = table[["original_shape_MeshVolume", "original_shape_Maximum3DDiameter"]]
    assert np.log(shape).corr().iloc[0, 1] > 0.9


def test_exome_vcfs(demo):
    sheet = _read(demo / "samples.tsv")
    panel = _read(PANEL)
    first_columns = set()
    for row in sheet[sheet["exome_vcf"] != ""].itertuples():
        with pysam.VariantFile(str(demo / row.exome_vcf)) as vcf:
            header = vcf.header
            meta = {r.key: r.value for r in header.records if r.value}
            tumour, normal = f"{row.sample_id}_T", f"{row.sample_id}_N"
            assert meta["tumor_sample"] == tumour and meta["normal_sample"] == normal
            assert meta["source"] in ("Mutect2", "FilterMutectCalls")
            assert row.tumor_sample in ("", tumour)
            assert set(header.samples) == {tumour, normal}
            first_columns.add(header.samples[0] == tumour)
            assert header.contigs["chr1"].length == 248956422
            assert header.contigs["chrX"].length == 156040895
            assert "Allele|Consequence|IMPACT|SYMBOL|Gene" in header.info["CSQ"].description
            for name in ("PASS", "weak_evidence", "germline", "normal_artifact",
                         "clustered_events", "strand_bias"):
                assert name in header.filters
            positions = []
            for rec in vcf:
                positions.append((list(header.contigs).index(rec.contig), rec.pos))
                assert rec.samples[normal]["GT"] in ((0, 0), (0, 1))
                assert 1 in rec.samples[tumour]["GT"]
                assert len(rec.info["CSQ"]) >= 1
            assert positions == sorted(positions) and 20 <= len(positions) <= 80
            n_panel = sum(len(list(vcf.fetch(g.chrom, int(g.start) - 1, int(g.end))))
                          for g in panel.itertuples())
            assert n_panel < len(positions)
    assert first_columns == {True, False}  # tumour first in some batches, normal in others


def test_panel_rule_positives_and_decoys(demo):
    positive, reasons = _panel_calls(demo)
    rate = np.mean(list(positive.values()))
    assert 0.25 <= rate <= 0.42
    failing = " ".join(reasons)
    for reason in ("filter", "consequence", "af", "depth", "(multiallelic)"):
        assert reason in failing, reason
    assert reasons["true"] >= sum(positive.values())


def test_genotype_vcf(demo):
    sheet = _read(demo / "samples.tsv")
    snps = _read(SNPS)
    genotyped = sheet[sheet["genotype_vcf"] != ""]
    expected = [g or s for s, g in zip(genotyped["sample_id"], genotyped["genotype_sample"])]
    with pysam.VariantFile(str(demo / "genotypes.vcf.gz")) as vcf:
        assert list(vcf.header.samples) == expected
        assert "GQ" in vcf.header.formats and "AD" in vcf.header.formats
        records = list(vcf)
        assert len(records) >= len(snps) + 15
        for snp in snps.itertuples():
            found = list(vcf.fetch(snp.chrom, int(snp.pos) - 1, int(snp.pos)))
            assert len(found) == 1 and found[0].id == snp.rsid
            assert found[0].ref == snp.ref and found[0].alts == (snp.alt,)
        tt = [r for r in records if r.id == "rs8099917"][0]
        calls = [s["GT"] for s in tt.samples.values()]
        missing = sum(gt == (None, None) for gt in calls)
        assert 0.015 * len(sheet) <= missing <= 0.05 * len(sheet)
        called = [gt for gt in calls if gt != (None, None)]
        assert 0.8 <= np.mean([gt == (0, 0) for gt in called]) <= 0.95  # TT ~ 85-90%
        cc = [r for r in records if r.id == "rs12979860"][0]
        called = [s["GT"] for s in cc.samples.values() if s["GT"] != (None, None)]
        assert 0.8 <= np.mean([gt == (0, 0) for gt in called]) <= 0.95  # CC ~ 85-90%
        contigs = list(vcf.header.contigs)
        keys = [(contigs.index(r.contig), r.pos) for r in records]
        assert keys == sorted(keys)


def test_truth_and_oracle_auc(demo):
    truth = _read(demo / "truth.tsv")
    assert list(truth.columns[:2]) == ["sample_id", "response_probability"]
    assert len(truth) == 300
    p = truth.set_index("sample_id")["response_probability"].astype(float)
    assert ((p > 0) & (p < 1)).all()
    labels = _labelled(demo)
    auc = roc_auc_score(labels["y"], p[labels.index])
    assert 0.82 <= auc <= 0.93, auc
    assert 0.3 <= labels["y"].mean() <= 0.5
    response = labels.loc[labels["y"] == 1, "best_response"]
    assert 0.08 <= (response == "CR").mean() <= 0.35


def test_planted_effects_table(demo):
    table = _read(demo / "planted_effects.tsv")
    assert list(table.columns) == ["outcome", "effect", "variable", "direction", "log_odds",
                                   "log_hazard_ratio", "value", "description"]
    assert list(dict.fromkeys(table["outcome"])) == ["response", "os", "pfs", "censoring"]
    effects = table[table["outcome"] == "response"].set_index("effect")
    assert (effects["log_odds"] != "").all()
    assert (effects[["log_hazard_ratio", "value"]] == "").all().all()
    assert effects.loc["extrahepatic_metastasis", "direction"] == "adverse"
    assert effects.loc["rs8099917_TT", "direction"] == "adverse"
    assert effects.loc["pd1_combination", "direction"] == "favourable"
    assert float(effects.loc["pd1_x_albi_grade_1", "log_odds"]) > 0
    galnt = effects.loc["rs9679162_GG"]
    assert galnt["direction"] == "favourable" and "+ strand" in galnt["description"]
    assert galnt["variable"] == "rs9679162" and float(galnt["log_odds"]) > 0
    # The genotype effects' survival consequence is spelled out: the response linear
    # predictor's loading times the log-odds (longer OS for GG, shorter for IL-28B TT).
    model = _survival_model(demo)
    for outcome in ("os", "pfs"):
        loading = model[(outcome, "response_linear_predictor")]
        for effect in ("rs9679162_GG", "rs8099917_TT"):
            log_odds = float(effects.loc[effect, "log_odds"])
            assert model[(outcome, effect)] == pytest.approx(loading * log_odds)
    os_galnt = table[(table["outcome"] == "os") & (table["effect"] == "rs9679162_GG")].iloc[0]
    assert os_galnt["direction"] == "favourable" and os_galnt["log_odds"] == ""
    assert "not an extra term" in os_galnt["description"]


def test_planted_effects_without_galnt14_in_the_resource(tmp_path):
    """A SNP resource without rs9679162: the effect is not planted (log-odds 0, its average in
    the intercept), and no survival effect is claimed for it."""
    snps = tmp_path / "snps.tsv"
    snps.write_text("".join(line for line in SNPS.read_text().splitlines(keepends=True)
                            if not line.startswith("rs9679162")))
    simulate_cohort(30, 2, 1, tmp_path / "cohort", PANEL, snps)
    table = _read(tmp_path / "cohort" / "planted_effects.tsv")
    galnt = table[table["effect"] == "rs9679162_GG"].set_index("outcome")
    assert galnt.loc["response", "direction"] == "none"
    assert float(galnt.loc["response", "log_odds"]) == 0
    assert "NOT PLANTED" in galnt.loc["response", "description"]
    assert galnt.loc["os", "direction"] == "none" and float(galnt.loc["os", "log_hazard_ratio"]) == 0
    truth = _read(tmp_path / "cohort" / "truth.tsv")
    assert "rs9679162_true_alt_count" not in truth.columns


def _survival_model(out: Path) -> dict[tuple[str, str], float]:
    """(outcome, effect) -> its log hazard ratio or value, from planted_effects.tsv."""
    table = _read(out / "planted_effects.tsv")
    table = table[table["outcome"] != "response"]
    numbers = np.where(table["log_hazard_ratio"] != "", table["log_hazard_ratio"],
                       table["value"]).astype(float)
    return dict(zip(zip(table["outcome"], table["effect"]), numbers))


def _with_truth(out: Path) -> pd.DataFrame:
    clinical = _read(out / "clinical.tsv")
    truth = _read(out / "truth.tsv")
    frame = clinical[["sample_id", "best_response", "os_months", "os_event", "pfs_months",
                      "pfs_event"]].merge(truth, on="sample_id", validate="1:1")
    numeric = frame.columns.drop(["sample_id", "best_response"])
    frame[numeric] = frame[numeric].astype(float)
    return frame


def _harrell_c(frame: pd.DataFrame, outcome: str, risk_column: str) -> float:
    return concordance_index_censored(frame[f"{outcome}_event"].astype(bool).to_numpy(),
                                      frame[f"{outcome}_months"].to_numpy(),
                                      frame[risk_column].to_numpy())[0]


def test_truth_survival_columns_and_pretreatment_oracle(demo):
    """truth.tsv has the realised and the baseline log hazards of OS and PFS; they differ by
    the responder term of planted_effects.tsv, and the realised one is the recorded response."""
    truth = _read(demo / "truth.tsv")
    assert list(truth.columns) == ["sample_id", "response_probability", "os_log_hazard",
                                   "os_baseline_log_hazard", "pfs_log_hazard",
                                   "pfs_baseline_log_hazard", "rs9679162_true_alt_count",
                                   "rs12979860_true_alt_count", "rs8099917_true_alt_count",
                                   "true_radiomic_heterogeneity", "true_shape_regularity"]
    frame = _with_truth(demo)
    assert np.isfinite(frame.drop(columns=["sample_id", "best_response"])).all().all()
    model = _survival_model(demo)
    p = frame["response_probability"]
    labelled = frame["best_response"] != ""
    responded = frame["best_response"].isin(["CR", "PR"])
    for outcome in ("os", "pfs"):
        log_hr = model[(outcome, "responder")]
        expected_term = np.log(1 - p + p * np.exp(log_hr))
        baseline_part = frame[f"{outcome}_baseline_log_hazard"] - expected_term
        realised_term = frame[f"{outcome}_log_hazard"] - baseline_part
        is_responder = np.isclose(realised_term, log_hr, atol=1e-6)
        assert (is_responder | np.isclose(realised_term, 0, atol=1e-6)).all()
        assert (is_responder[labelled] == responded[labelled]).all()


def test_oracle_c_index_of_the_true_log_hazards(demo):
    """On the 300-patient demo each oracle ranks well above chance, and knowing the realised
    response (post-treatment) ranks better than the baseline (pre-treatment) oracle."""
    frame = _with_truth(demo)
    for outcome in ("os", "pfs"):
        realised = _harrell_c(frame, outcome, f"{outcome}_log_hazard")
        baseline = _harrell_c(frame, outcome, f"{outcome}_baseline_log_hazard")
        assert 0.7 <= baseline < realised <= 0.9, (outcome, baseline, realised)
        # a risk unrelated to the patient ranks at chance
        shuffled = frame.assign(noise=np.random.default_rng(0).permutation(
            frame[f"{outcome}_log_hazard"].to_numpy()))
        assert abs(_harrell_c(shuffled, outcome, "noise") - 0.5) < 0.06


def test_realised_log_hazard_generated_the_times(large):
    """By definition of the hazard: summed over patients, the true cumulative hazard at each
    observed time equals the expected number of events (the martingale residuals sum to ~0)."""
    frame = _with_truth(large)
    model = _survival_model(large)

    def cumulative_hazard(outcome, months):
        shape = model[(outcome, "weibull_shape")]
        scale = model[(outcome, "weibull_scale_months")]
        return (months / scale) ** shape * np.exp(frame[f"{outcome}_log_hazard"])

    os_expected = cumulative_hazard("os", frame["os_months"]).sum()
    assert os_expected == pytest.approx(frame["os_event"].sum(), rel=0.07)
    # a PFS event is progression or death, whichever comes first
    pfs_expected = (cumulative_hazard("pfs", frame["pfs_months"])
                    + cumulative_hazard("os", frame["pfs_months"])).sum()
    assert pfs_expected == pytest.approx(frame["pfs_event"].sum(), rel=0.07)
    # the baseline oracle is not the generating hazard of responders and non-responders
    responders = frame["best_response"].isin(["CR", "PR"])
    shape, scale = model[("os", "weibull_shape")], model[("os", "weibull_scale_months")]
    baseline = ((frame["os_months"] / scale) ** shape
                * np.exp(frame["os_baseline_log_hazard"]))[responders].sum()
    assert baseline > 1.15 * frame["os_event"][responders].sum()


def test_survival_censoring_as_planted(large):
    """About 30% of OS is censored at the planted follow-up, within its range."""
    frame = _with_truth(large)
    model = _survival_model(large)
    assert 0.22 <= 1 - frame["os_event"].mean() <= 0.38
    assert 0.08 <= 1 - frame["pfs_event"].mean() <= 0.25
    censored = frame.loc[frame["os_event"] == 0, "os_months"]
    assert censored.max() <= model[("censoring", "follow_up_max_months")]
    lost = censored < model[("censoring", "follow_up_min_months")]
    assert 0 < lost.mean() < 2 * model[("censoring", "lost_to_follow_up_fraction")]


# ---------------------------------------------------------------------------------------------
# Reproducibility and failure behaviour
# ---------------------------------------------------------------------------------------------
def _hashes(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_other_seed_differs(tmp_path):
    simulate_cohort(40, 2, 5, tmp_path / "a", PANEL, SNPS)
    simulate_cohort(40, 2, 5, tmp_path / "b", PANEL, SNPS)
    simulate_cohort(40, 2, 6, tmp_path / "c", PANEL, SNPS)
    first, second, other = (_hashes(tmp_path / x) for x in "abc")
    assert first == second
    assert first["clinical.tsv"] != other["clinical.tsv"]
    assert first["genotypes.vcf.gz"] != other["genotypes.vcf.gz"]
    # Rerunning into an existing simulation output replaces it with the same bytes.
    simulate_cohort(40, 2, 5, tmp_path / "c", PANEL, SNPS)
    assert _hashes(tmp_path / "c") == first


def test_bad_inputs_leave_no_output(tmp_path):
    bad_panel = tmp_path / "panel.tsv"
    bad_panel.write_text("gene\tchrom\tstart\tend\tstrand\tsource\n"
                         "PIK3CD\t1\t9629889\t9729114\t+\tx\n"
                         "FGFR4\tchr5\t200\t100\t+\tx\n"
                         "TP53\tchr17\t7661779\t90000000\t-\tx\n")
    bad_snps = tmp_path / "snps.tsv"
    bad_snps.write_text("rsid\tchrom\tpos\tref\talt\tgene\n"
                        "rs8099917\tchr19\t99252525\tT\tG\tIL28B\n")
    with pytest.raises(InputError) as error:
        simulate_cohort(20, 2, 1, tmp_path / "out", bad_panel, bad_snps)
    # Every problem of both resources at once, each naming its file, row and column.
    assert {(Path(p.file).name, p.where) for p in error.value.problems} == {
        ("panel.tsv", "row 1, column chrom"), ("panel.tsv", "row 2, columns start, end"),
        ("panel.tsv", "row 3, column end"), ("snps.tsv", "row 1, column pos")}
    assert "unknown contig '1'" in str(error.value)
    assert "end 90000000 is beyond the end of chr17 (83,257,441 bp)" in str(error.value)
    with pytest.raises(InputError) as error:
        simulate_cohort(2, 3, -1, tmp_path / "out", PANEL, SNPS, genome_build="hg19")
    assert len(error.value.problems) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["panel.tsv", "snps.tsv"]
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(InputError):
        simulate_cohort(20, 2, 1, precious, PANEL, SNPS)
    assert (precious / "notes.txt").read_text() == "keep me"


# ---------------------------------------------------------------------------------------------
# Planted effects show up in the realised labels (2000 patients)
# ---------------------------------------------------------------------------------------------
def test_planted_directions(large):
    labels = _labelled(large)
    y = labels["y"]
    values = _baseline_canonical(large).reindex(labels.index)

    def lower(mask):  # response rate with the adverse feature vs without
        return _rate(y[mask]) < _rate(y[~mask]) - 0.1

    assert lower(labels["extrahepatic_metastasis"] == "1")
    assert lower(labels["vascular_invasion"].isin(["Vp3", "Vp4"]))
    assert lower(values["afp"] >= 400)
    assert lower(pd.to_numeric(labels["tumor_number"], errors="coerce") > 3)
    nlr = values["neutrophils"] / values["lymphocytes"]
    assert lower(nlr > nlr.median())
    pd1 = labels["combination"].isin(["pd1", "pd1_tki"])
    assert _rate(y[pd1]) > _rate(y[~pd1]) + 0.08
    # Interaction: the PD-1 benefit is concentrated in ALBI grade 1.
    albi = 0.66 * np.log10(values["bilirubin"]) - 0.085 * values["albumin"]
    grade1, grade2 = albi <= -2.60, (albi > -2.60) & (albi <= -1.39)
    gain1 = _rate(y[grade1 & pd1]) - _rate(y[grade1 & ~pd1])
    gain2 = _rate(y[grade2 & pd1]) - _rate(y[grade2 & ~pd1])
    assert gain1 > gain2 + 0.08


def test_planted_genotype_effects(large):
    labels = _labelled(large)
    y = labels["y"]
    sheet = _read(large / "samples.tsv").set_index("sample_id")
    column = {(g or s): s for s, g in zip(sheet.index, sheet["genotype_sample"])}
    genotype = {}
    with pysam.VariantFile(str(large / "genotypes.vcf.gz")) as vcf:
        for rec in vcf:
            if rec.id in ("rs8099917", "rs9679162"):
                genotype[rec.id] = pd.Series({column[name]: s["GT"] for name, s in
                                              rec.samples.items()})
                alleles = (rec.ref, *rec.alts)
                genotype[rec.id + "_alleles"] = alleles
    tt = genotype["rs8099917"].reindex(labels.index)
    called = tt.notna() & (tt != (None, None))
    is_tt = tt[called] == (0, 0)
    assert _rate(y[called][is_tt]) < _rate(y[called][~is_tt]) - 0.1
    galnt = genotype["rs9679162"].reindex(labels.index)
    called = galnt.notna() & (galnt != (None, None))
    alleles = genotype["rs9679162_alleles"]
    gg = galnt[called].map(lambda gt: all(alleles[a] == "G" for a in gt))
    assert _rate(y[called][gg]) > _rate(y[called][~gg]) + 0.04
    planted = _read(large / "planted_effects.tsv").set_index("effect")
    response = planted[planted["outcome"] == "response"]
    assert response.loc["rs9679162_GG", "direction"] == "favourable"
    assert "GG (+ strand, homozygous G" in response.loc["rs9679162_GG", "description"]


def test_planted_panel_and_radiomic_effects(large):
    labels = _labelled(large)
    y = labels["y"]
    positive, _ = _panel_calls(large)
    positive = pd.Series(positive).reindex(labels.index).dropna().astype(bool)
    assert 0.27 <= positive.mean() <= 0.38
    assert _rate(y[positive.index][positive]) > _rate(y[positive.index][~positive]) + 0.1
    radiomics = pd.read_csv(large / "radiomics.tsv", sep="\t")
    largest = radiomics.loc[radiomics.groupby("sample_id")["original_shape_MeshVolume"].idxmax()]
    largest = largest.set_index("sample_id").reindex(labels.index).dropna(how="all")
    outcome = y[largest.index]
    assert np.corrcoef(largest["original_glcm_JointEntropy"], outcome)[0, 1] < -0.1
    assert np.corrcoef(largest["original_shape_Sphericity"], outcome)[0, 1] > 0.1
    # A noise feature carries (almost) no signal.
    assert abs(np.corrcoef(largest["wavelet-LLH_firstorder_Mean"], outcome)[0, 1]) < 0.1


def test_survival_linked_to_risk(large):
    clinical = _read(large / "clinical.tsv")
    truth = _read(large / "truth.tsv").set_index("sample_id")["response_probability"]
    p = truth[clinical["sample_id"]].astype(float).to_numpy()
    os_months = clinical["os_months"].astype(float).to_numpy()
    pfs_months = clinical["pfs_months"].astype(float).to_numpy()
    assert (pfs_months <= os_months).all()
    high, low = p > np.median(p), p <= np.median(p)
    assert np.median(os_months[high]) > np.median(os_months[low])
    assert np.median(pfs_months[high]) > np.median(pfs_months[low])
    assert 0.4 <= clinical["os_event"].astype(int).mean() <= 0.85


# ---------------------------------------------------------------------------------------------
# GRCh37 (the repository's GRCh37 resources: bare contig names in the panel, chr in the SNPs)
# ---------------------------------------------------------------------------------------------
def test_grch37_cohort_follows_its_resources(tmp_path):
    """Each VCF is on GRCh37 with the contig names of the resource it is written from, every
    record lies on a GRCh37 contig, the SNPs sit at their GRCh37 positions, and the headers
    point to GRCh37 for the pipeline's build check."""
    panel37, snps37 = RESOURCES / "panel_GRCh37.tsv", RESOURCES / "snps_GRCh37.tsv"
    out = tmp_path / "cohort"
    simulate_cohort(40, 2, 3, out, panel37, snps37, genome_build="GRCh37")
    grch38 = tmp_path / "cohort38"
    simulate_cohort(40, 2, 3, grch38, PANEL, SNPS)
    # The same patients, outcomes and genotypes; only the coordinates differ.
    for name in ("clinical.tsv", "truth.tsv", "planted_effects.tsv", "samples.tsv"):
        assert (out / name).read_bytes() == (grch38 / name).read_bytes(), name
    panel = _read(panel37)
    with pysam.VariantFile(str(out / "genotypes.vcf.gz")) as vcf:
        assert vcf.header.contigs["chr2"].length == 243199373
        assert infer_build(vcf.header).build == "GRCh37"
        for snp in _read(snps37).itertuples():
            [rec] = vcf.fetch(snp.chrom, int(snp.pos) - 1, int(snp.pos))
            assert (rec.id, rec.ref, rec.alts) == (snp.rsid, snp.ref, (snp.alt,))
    sheet = _read(out / "samples.tsv")
    n_panel = 0
    for row in sheet[sheet["exome_vcf"] != ""].itertuples():
        with pysam.VariantFile(str(out / row.exome_vcf)) as vcf:
            assert vcf.header.contigs["1"].length == 249250621 and "chr1" not in vcf.header.contigs
            assert infer_build(vcf.header).build == "GRCh37"
            for rec in vcf:
                assert rec.pos <= vcf.header.contigs[rec.contig].length
            n_panel += sum(len(list(vcf.fetch(g.chrom, int(g.start) - 1, int(g.end))))
                           for g in panel.itertuples() if g.start != "")
    assert n_panel > 0  # panel variants at the GRCh37 gene spans (HNRNPCL4 has none)
