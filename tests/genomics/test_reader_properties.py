"""Property-based tests of the table readers: whatever bytes or table a user hands us, the
answer is a result or a validation report (haicpred.io.errors.Problem / InputError), never a
traceback."""

import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haicpred.clinical.biomarkers import check_biomarkers
from haicpred.clinical.clinical_table import check_clinical
from haicpred.io.errors import InputError, Problem
from haicpred.clinical.extra_modalities import check_extra_modality
from haicpred.radiomics.features import check_radiomics
from haicpred.io.resources import check_panel, check_snps
from haicpred.io.samples import read_sample_sheet

CHECKS = {
    "samples": read_sample_sheet,
    "clinical": check_clinical,
    "biomarkers": check_biomarkers,
    "radiomics": check_radiomics,
    "extra_modality": check_extra_modality,
    "panel": check_panel,
    "snps": check_snps,
}
HEADERS = {
    "samples": ["sample_id", "batch", "exome_vcf", "tumor_sample", "genotype_vcf",
                "genotype_sample"],
    "clinical": ["sample_id", "age", "sex", "bclc", "tumor_size_cm", "tumor_number",
                 "vascular_invasion", "best_response", "os_months", "os_event",
                 "outcome_toxicity"],
    "biomarkers": ["sample_id", "analyte", "value", "unit", "timepoint"],
    "radiomics": ["sample_id", "lesion_id", "original_shape_MeshVolume",
                  "original_firstorder_Mean", "diagnostics_Versions_PyRadiomics"],
    "extra_modality": ["sample_id", "CD8_density", "PDL1_tps"],
    "panel": ["gene", "chrom", "start", "end", "strand", "source"],
    "snps": ["rsid", "chrom", "pos", "ref", "alt", "gene"],
}
# HAICPRED_HYPOTHESIS_EXAMPLES=600 for a longer hunt (38 s here) than the suite's default
PROFILE = settings(max_examples=int(os.environ.get("HAICPRED_HYPOTHESIS_EXAMPLES", "60")), deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])

# Cells that look like what users type: numbers in many spellings, units, codes, blanks,
# separators that break naive parsers, and non-ASCII text.
CELL = st.one_of(
    st.sampled_from(["", "NA", "nan", "inf", "-1", "0", "1", "1e309", "12,5", "3.0", " 7 ",
                     "PR", "CD", "M", "F", "C", "Vp3", "ng/mL", "IU/mL", "g/dL", "umol/L",
                     "baseline", "post", "AFP", "albumin", "chr1", "+", "-", '"', "'", ";",
                     "$(rm -rf /)", "P 1", "P/1", "µ", "\u00a0", "x" * 300]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**12, 10**12).map(str),
    st.text(st.characters(blacklist_characters="\t\r\n"), max_size=12),
)


def _run(name: str, data: bytes):
    fd, path = tempfile.mkstemp(suffix=".tsv")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        try:
            table, problems = CHECKS[name](path)
        except InputError as error:  # a report is an acceptable answer
            assert error.problems and all(isinstance(p, Problem) for p in error.problems)
            return
        assert all(isinstance(p, Problem) for p in problems)
        if table is None:
            assert problems, "unreadable input must come with a problem"
        for problem in problems:
            assert problem.file and problem.where and problem.message
    finally:
        os.unlink(path)


@pytest.mark.parametrize("name", sorted(CHECKS))
@PROFILE
@given(data=st.binary(max_size=400))
def test_random_bytes_give_a_report_not_a_traceback(name, data):
    _run(name, data)


@st.composite
def tables(draw, name):
    header = list(HEADERS[name])
    if draw(st.booleans()):
        header = draw(st.permutations(header))
    if draw(st.integers(0, 4)) == 0:  # now and then a column too few, or a stranger
        header = header[:-1] + [draw(st.sampled_from(["colour", "", "sample_id", "value"]))]
    rows = draw(st.lists(st.lists(CELL, min_size=len(header), max_size=len(header)),
                         max_size=6))
    if rows and draw(st.integers(0, 5)) == 0:  # a ragged row
        rows[0] = rows[0][:-1]
    lines = ["\t".join(header)] + ["\t".join(row) for row in rows]
    text = "\n".join(lines) + ("\n" if draw(st.booleans()) else "")
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"]))
    return text.encode(encoding, errors="replace")


@pytest.mark.parametrize("name", sorted(CHECKS))
@PROFILE
@given(data=st.data())
def test_valid_looking_tables_give_a_result_or_a_report(name, data):
    _run(name, data.draw(tables(name)))
