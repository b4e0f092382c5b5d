"""Tests for haicpred.report.importance on the simulator's real planted_effects.tsv."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from haicpred.io.tables import read_tsv, write_tsv
from haicpred.report.importance import planted_section
from haicpred.simulate import simulate_cohort

RESOURCES = Path(__file__).parents[2] / "resources"


def test_planted_section_shows_the_response_model_only(tmp_path):
    """The simulator's OS/PFS and censoring rows (and the columns only they use) stay out of
    the response report's planted-effects section: it is the same HTML as for a table of the
    response rows in the simulator's former layout (no outcome column)."""
    simulate_cohort(40, 2, 3, tmp_path / "cohort", RESOURCES / "panel_GRCh38.tsv",
                    RESOURCES / "snps_GRCh38.tsv")
    planted = read_tsv(tmp_path / "cohort" / "planted_effects.tsv")
    assert set(planted["outcome"]) == {"response", "os", "pfs", "censoring"}
    former = planted[planted["outcome"] == "response"].drop(
        columns=["outcome", "log_hazard_ratio", "value"])
    write_tsv(former, tmp_path / "former.tsv")
    importance = pd.DataFrame({"feature": ["extrahepatic_metastasis", "ecog", "afp_ge_400"],
                               "rank": ["1", "2", "3"]})
    html = planted_section(planted, importance)
    assert html == planted_section(read_tsv(tmp_path / "former.tsv"), importance)
    assert "extrahepatic_metastasis" in html and "rad_sphericity" in html
    for survival_only in ("weibull_shape", "follow_up_max_months", "log_hazard_ratio",
                          "child_pugh_points"):
        assert survival_only not in html
