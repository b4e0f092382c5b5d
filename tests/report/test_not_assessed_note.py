"""The report's note on panel genes the run's genome build cannot assess (the Cohort section's
data availability, shared by the binary and the survival report): said once, from the feature
dictionary's marks, with the reason; nothing when every gene was assessed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from haicpred.features.matrix import genomic_dictionary
from haicpred.report.cohort import modality_availability

REASON = "no valid GRCh37 span (absent from GENCODE v19 & hg19 RefSeq)"


def tables(not_assessed):
    mutations = pd.DataFrame({"sample_id": ["P1", "P2"], "PIK3CD_mutated": [1, 0],
                              "PIK3CD_n_mutations": [1, 0], "HNRNPCL4_mutated": [None, None],
                              "HNRNPCL4_n_mutations": [None, None], "panel_mutations": [1, 0],
                              "fohaic1_mutation_positive": [1, 0]})
    dictionary = genomic_dictionary(mutations, pd.DataFrame({"sample_id": ["P1", "P2"]}),
                                     not_assessed, "GRCh37")
    matrix = mutations.assign(batch="b1").astype({c: float for c in mutations.columns[1:]})
    return matrix, dictionary


def test_note_once_with_the_columns_and_the_reason():
    matrix, dictionary = tables({"HNRNPCL4": REASON})
    html = "\n".join(modality_availability(matrix, dictionary))
    assert html.count("Not assessed on GRCh37") == 1
    assert ("<code>HNRNPCL4_mutated</code>, <code>HNRNPCL4_n_mutations</code>" in html)
    assert "absent from GENCODE v19 &amp; hg19 RefSeq" in html  # escaped
    assert "empty (missing, not 0) for every patient" in html
    assert np.isnan(matrix["HNRNPCL4_mutated"]).all()


def test_no_note_when_every_gene_is_assessed():
    matrix, dictionary = tables({})
    assert "Not assessed" not in "\n".join(modality_availability(matrix, dictionary))
