"""Simulated cohorts turned into feature matrices in-process (the workflow's feature steps, one
package call each), and a small final model trained on one of them, for the final-model and
predict tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from haicpred.clinical.biomarkers import baseline_biomarkers, read_biomarkers
from haicpred.clinical.clinical_table import read_clinical
from haicpred.features.matrix import build_feature_matrix
from haicpred.modeling.final_model import FinalModel, fit_final_model, write_final_model
from haicpred.genomics.genotypes import snp_genotypes
from haicpred.modeling.settings import DEFAULT_SETTINGS
from haicpred.genomics.mutations import panel_mutations
from haicpred.radiomics.features import radiomic_features, read_radiomics
from haicpred.io.resources import read_panel, read_snps
from haicpred.io.samples import batch_records, load_sample_sheet
from haicpred.simulate import simulate_cohort
from workflow_helpers import PANEL, SNPS

# fast and fixed: 60 trees, one thread; nested tuning off where the package has it (it would
# choose other parameters and take longer, and is tested with the tuning module)
FAST_FINAL = {"seed": 1, "threads": 1, "xgboost": {"n_estimators": 60},
              **({"tuning": {"enabled": False}} if "tuning" in DEFAULT_SETTINGS else {})}


@dataclass
class Cohort:
    folder: Path
    matrix: pd.DataFrame
    dictionary: pd.DataFrame
    labels: pd.DataFrame


def build_cohort(folder: Path, n_patients: int, n_batches: int, seed: int) -> Cohort:
    """Simulate a cohort and build its feature matrix as the workflow's rules do."""
    simulate_cohort(n_patients=n_patients, n_batches=n_batches, seed=seed, out_dir=folder,
                    panel_path=PANEL, snps_path=SNPS)
    sheet = load_sample_sheet(folder / "samples.tsv")
    panel, snps = read_panel(PANEL), read_snps(SNPS)
    mutations, genotypes = [], []
    for batch in sorted(sheet["batch"].unique()):
        records = batch_records(sheet, batch)
        mutations.append(panel_mutations(records, panel, genome_build="GRCh38",
                                         index_dir=folder / "index")[0])
        genotypes.append(snp_genotypes(records, snps))
    matrix, dictionary, labels = build_feature_matrix(
        sheet=sheet,
        clinical=read_clinical(folder / "clinical.tsv"),
        mutations=pd.concat(mutations, ignore_index=True),
        genotypes=pd.concat(genotypes, ignore_index=True),
        biomarkers=baseline_biomarkers(read_biomarkers(folder / "biomarkers.tsv"),
                                       str(folder / "biomarkers.tsv")),
        radiomics=radiomic_features(read_radiomics(folder / "radiomics.tsv")),
    )
    labels["objective_response"] = labels["objective_response"].astype(float)
    return Cohort(folder, matrix, dictionary, labels)


@dataclass
class Trained:
    train: Cohort
    new: Cohort
    final: FinalModel
    model_dir: Path


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Trained:
    """A final model on 150 simulated patients (2 batches), written to a folder, and a new
    simulated cohort of 60 patients (another seed) to score."""
    root = tmp_path_factory.mktemp("final_model")
    train = build_cohort(root / "train", 150, 2, seed=21)
    new = build_cohort(root / "new", 60, 2, seed=22)
    final = fit_final_model(train.matrix, train.labels, train.dictionary, FAST_FINAL)
    write_final_model(final, root / "model")
    return Trained(train, new, final, root / "model")


# the survival endpoint of the simulated cohorts (OS with random and administrative censoring)
SURVIVAL_ENDPOINT = {"kind": "survival", "time_column": "os_months", "event_column": "os_event",
                     "horizons_months": [12, 24, 36]}
FAST_SURVIVAL_FINAL = {**FAST_FINAL, "endpoint": SURVIVAL_ENDPOINT}
# a small survival cross-validation, for the out-of-fold risks and metrics the final model reads
FAST_SURVIVAL_CV = {**FAST_SURVIVAL_FINAL, "cv_folds": 3, "cv_repeats": 2, "n_bootstrap": 20}


@dataclass
class TrainedSurvival:
    train: Cohort
    new: Cohort
    final: FinalModel
    model_dir: Path
    cv_metrics: pd.DataFrame
    cv_oof: pd.DataFrame


@pytest.fixture(scope="session")
def trained_survival(tmp_path_factory) -> TrainedSurvival:
    """A frozen survival model (OS) on 150 simulated patients (2 batches, some without
    follow-up), fitted after a small survival cross-validation of the same data (its
    metrics.tsv and oof_predictions.tsv, through their TSV files as the workflow reads them),
    written to a folder; and a new cohort of 60 patients (another seed) to score."""
    from haicpred.io.tables import read_tsv, write_tsv
    from haicpred.modeling.cross_validation import cross_validate_models

    root = tmp_path_factory.mktemp("survival_final_model")
    train = build_cohort(root / "train", 150, 2, seed=21)
    # a few patients without follow-up: unlabelled, scored all the same
    train.labels.loc[[3, 40, 77], ["os_months", "os_event"]] = float("nan")
    new = build_cohort(root / "new", 60, 2, seed=22)
    cv = cross_validate_models(train.matrix, train.labels, train.dictionary, FAST_SURVIVAL_CV)
    write_tsv(cv.metrics, root / "metrics.tsv")
    write_tsv(cv.oof, root / "oof_predictions.tsv")
    cv_metrics, cv_oof = read_tsv(root / "metrics.tsv"), read_tsv(root / "oof_predictions.tsv")
    final = fit_final_model(train.matrix, train.labels, train.dictionary, FAST_SURVIVAL_FINAL,
                            cv_metrics=cv_metrics, cv_oof=cv_oof)
    write_final_model(final, root / "model")
    return TrainedSurvival(train, new, final, root / "model", cv_metrics, cv_oof)


def rescored_by_the_cli(train: Cohort, settings: dict, folder: Path
                        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The final model of ``train`` fitted on its matrix as read back from disk, written to
    ``folder/model``, and ``haicpred predict`` run on the same matrix file: (the scored table,
    the model folder's predictions.tsv), both by sample_id."""
    import subprocess
    import sys

    from haicpred.features.matrix import read_feature_matrix
    from haicpred.io.tables import read_tsv, write_tsv
    from haicpred.modeling.final_model import PREDICTIONS_FILE

    write_tsv(train.matrix, folder / "feature_matrix.tsv")
    write_tsv(train.dictionary, folder / "feature_dictionary.tsv")
    matrix = read_feature_matrix(folder / "feature_matrix.tsv")
    final = fit_final_model(matrix, train.labels, train.dictionary, settings)
    write_final_model(final, folder / "model")
    result = subprocess.run(
        [sys.executable, "-m", "haicpred.cli", "predict", "--model-dir", str(folder / "model"),
         "--matrix", str(folder / "feature_matrix.tsv"),
         "--dictionary", str(folder / "feature_dictionary.tsv"),
         "--out", str(folder / "scored.tsv")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return (read_tsv(folder / "scored.tsv").set_index("sample_id"),
            read_tsv(folder / "model" / PREDICTIONS_FILE).set_index("sample_id"))
