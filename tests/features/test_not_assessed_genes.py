"""A panel gene without coordinates on the run's build (HNRNPCL4 on GRCh37, resources/
panel_GRCh37.tsv) from the mutation features through the feature matrix, its dictionary and the
data checks: the columns stay, empty (missing, not 0), marked as not assessed with the reason,
and no data check reads them as a missingness signal. Real files, no mocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from haicpred.clinical.clinical_table import read_clinical
from haicpred.features.data_checks import run_data_checks
from haicpred.features.matrix import build_feature_matrix, not_assessed_features
from haicpred.genomics.mutations import panel_mutations
from haicpred.io.resources import not_assessed_genes, read_panel
from haicpred.io.tables import read_tsv, write_tsv

REPO = Path(__file__).resolve().parents[2]
PANEL_GRCH37 = REPO / "resources" / "panel_GRCh37.tsv"
N = 40

# A GRCh37 Mutect2-style VCF (contig lengths say GRCh37) with one PASS missense call in
# PIK3CD (GRCh37 1:9711790-9789172) for the odd-numbered patients.
VCF_HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=1,length=249250621>\n"
    '##FILTER=<ID=PASS,Description="All filters passed">\n'
    '##INFO=<ID=CSQ,Number=.,Type=String,Description="Consequence annotations from Ensembl '
    'VEP. Format: Allele|Consequence|IMPACT|SYMBOL|Gene">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tTUMOR\tNORMAL\n")
CALL = ("1\t9750000\t.\tC\tT\t.\tPASS\tCSQ=T|missense_variant|MODERATE|PIK3CD|ENSG1\tGT:AD\t"
        "0/1:60,40\t0/0:50,0\n")


def cohort(tmp_path: Path):
    """(sheet, clinical, mutations as the merged TSV holds them, labels) of N patients, each
    with an exome VCF; response independent of everything."""
    rng = np.random.default_rng(5)
    ids = [f"P{i:02d}" for i in range(N)]
    samples = []
    for i, sid in enumerate(ids):
        path = tmp_path / f"{sid}.vcf"
        path.write_text(VCF_HEADER + (CALL if i % 2 else ""))
        samples.append(dict(sample_id=sid, batch=f"b{i % 2 + 1}", exome_vcf=str(path),
                            tumor_sample="TUMOR", genotype_vcf=None, genotype_sample=sid))
    features, _ = panel_mutations(samples, read_panel(PANEL_GRCH37), genome_build="GRCh37")
    write_tsv(features, tmp_path / "mutations.tsv")
    response = rng.choice(["PR", "SD", "PD", "CR"], N)
    (tmp_path / "clinical.tsv").write_text("sample_id\tage\tbest_response\n" + "".join(
        f"{sid}\t{50 + i % 20}\t{r}\n" for i, (sid, r) in enumerate(zip(ids, response))))
    sheet = pd.DataFrame({"sample_id": ids, "batch": [s["batch"] for s in samples]})
    return sheet, read_clinical(tmp_path / "clinical.tsv"), read_tsv(tmp_path / "mutations.tsv")


def test_not_assessed_gene_through_matrix_dictionary_and_data_checks(tmp_path):
    sheet, clinical, mutations = cohort(tmp_path)
    assert mutations["HNRNPCL4_mutated"].isna().all()  # empty cells in the merged TSV
    genotypes = pd.DataFrame({"sample_id": sheet["sample_id"]})
    biomarkers = pd.DataFrame({"sample_id": sheet["sample_id"], "afp": 10.0})
    matrix, dictionary, labels = build_feature_matrix(
        sheet, clinical, mutations, genotypes, biomarkers, radiomics=None,
        not_assessed=not_assessed_genes(read_panel(PANEL_GRCH37)), genome_build="GRCh37")

    by_id = matrix.set_index("sample_id")
    assert by_id[["HNRNPCL4_mutated", "HNRNPCL4_n_mutations"]].isna().all(axis=None)
    assert by_id["PIK3CD_mutated"].tolist() == [i % 2 for i in range(N)]
    assert by_id["panel_mutations"].tolist() == [i % 2 for i in range(N)]
    assert by_id[["FGFR4_mutated", "ARID1B_n_mutations"]].eq(0).all(axis=None)  # 0: assessed

    marked = not_assessed_features(dictionary)
    assert list(marked) == ["HNRNPCL4_mutated", "HNRNPCL4_n_mutations"]
    build, reason = marked["HNRNPCL4_mutated"]
    assert build == "GRCh37" and "GENCODE v19" in reason
    description = dictionary.set_index("feature")["description"]
    assert "NOT ASSESSED on GRCh37" in description["HNRNPCL4_n_mutations"]
    assert "assessed genes" in description["panel_mutations"]
    assert not not_assessed_features(dictionary[dictionary["feature"] != "HNRNPCL4_mutated"]
                                     .assign(description="x"))

    checks, summary = run_data_checks(matrix, dictionary, labels, None)
    feature_rows = checks[(checks["check"] == "feature_missingness_vs_label")
                          & checks["subject"].str.startswith("HNRNPCL4")]
    assert len(feature_rows) == 2 and (feature_rows["flagged"] == "no").all()
    assert feature_rows["message"].str.startswith(
        "not testable: not assessed on GRCh37").all()
    mutation_rows = checks[checks["subject"].str.endswith(": mutation")]
    assert (mutation_rows["statistic"] == 0).all()  # the modality is there for everyone
    assert summary["n_flagged"] == 0


def test_without_not_assessed_genes_the_dictionary_is_unchanged(tmp_path):
    """A GRCh38 run (every gene assessed) gets the dictionary it always had."""
    sheet, clinical, mutations = cohort(tmp_path)
    genotypes = pd.DataFrame({"sample_id": sheet["sample_id"]})
    biomarkers = pd.DataFrame({"sample_id": sheet["sample_id"], "afp": 10.0})
    _, plain, _ = build_feature_matrix(sheet, clinical, mutations, genotypes, biomarkers,
                                       radiomics=None)
    _, empty, _ = build_feature_matrix(sheet, clinical, mutations, genotypes, biomarkers,
                                       radiomics=None, not_assessed={}, genome_build="GRCh38")
    pd.testing.assert_frame_equal(plain, empty)
    assert not not_assessed_features(plain)
    assert plain.set_index("feature").loc["panel_mutations", "description"] == (
        "qualifying mutations across the panel")
