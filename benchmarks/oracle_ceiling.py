"""How close to the oracle a model can get from the observed columns: the correctly specified
logistic regression of a simulated cohort.

The simulator's response model (haicpred.simulate.effects.PLANTED_EFFECTS) is a logistic model
of 16 terms of *true* values (latent radiomic factors, true labs). This script builds the same
terms from the cohort's observed feature matrix (measured labs, called genotypes and mutations,
the two planted radiomic features as extracted, with batch dummies for the scanner effects),
median-imputes, and fits an (almost) unpenalised logistic regression in 5-fold CV, 5 repeats:
the AUC a learner could reach if it knew which 16 of the ~120 columns matter and their form.
The oracle (truth.tsv) is the ceiling no model of the observed data reaches.

With --decompose it also shows where a learner that does not know the specification loses:
haicpred's lasso (the model of record's L1 start, `LinearStart`) on the observed columns the
planted terms are built from (as they are: no interaction, no cap), then with each modality's
other columns added, then on every column (5-fold CV, 3 repeats).

Usage: python benchmarks/oracle_ceiling.py [--decompose] <run folder> [<run folder> ...]
(a folder with results/features/ and results/demo/truth.tsv: a demo run, or
benchmarks/out/model_1000_seed<S>). Prints one JSON line per folder.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model_benchmark import load  # noqa: E402

NLR_CAP, NLR_CENTRE = 10.0, 3.0  # haicpred.simulate.effects
# The observed columns the planted terms are built from (planted_terms), as they are.
PLANTED_COLUMNS = ["extrahepatic_metastasis", "vp3_vp4", "tumor_number_gt3", "tumor_size_cm",
                   "albi_grade", "afp_ge_400", "nlr", "rs8099917_TT", "rs9679162_GG",
                   "fohaic1_mutation_positive", "combination_pd1", "combination_tki",
                   "rad_original_glcm_JointEntropy", "rad_original_shape_Sphericity"]


def planted_terms(frame: pd.DataFrame) -> pd.DataFrame:
    """The planted response model's terms, from observed columns (missing stays missing)."""
    grade = frame["albi_grade"]
    terms = pd.DataFrame({
        "extrahepatic_metastasis": frame["extrahepatic_metastasis"],
        "vp3_vp4": frame["vp3_vp4"],
        "tumor_number_gt3": frame["tumor_number_gt3"],
        "tumor_size_cm": frame["tumor_size_cm"],
        "albi_grade_2": (grade == 2).astype(float).where(grade.notna()),
        "albi_grade_3": (grade == 3).astype(float).where(grade.notna()),
        "afp_ge_400": frame["afp_ge_400"],
        "nlr_capped": np.minimum(frame["nlr"], NLR_CAP) - NLR_CENTRE,
        "rs8099917_TT": frame["rs8099917_TT"],
        "rs9679162_GG": frame["rs9679162_GG"],
        "fohaic1_mutation_positive": frame["fohaic1_mutation_positive"],
        "combination_pd1": frame["combination_pd1"],
        "pd1_x_albi_grade_1": frame["combination_pd1"] * (grade == 1),
        "combination_tki": frame["combination_tki"],
        "joint_entropy": frame["rad_original_glcm_JointEntropy"],
        "sphericity": frame["rad_original_shape_Sphericity"],
    })
    batches = pd.get_dummies(frame["batch"].astype(str), prefix="batch", dtype=float)
    return pd.concat([terms, batches], axis=1)


def ceiling(work: Path) -> dict:
    matrix, labels, _, truth = load(work)
    frame = (matrix.merge(labels[["sample_id", "objective_response"]], on="sample_id")
             .merge(truth[["sample_id", "response_probability"]], on="sample_id"))
    frame = frame[frame["objective_response"].notna()].reset_index(drop=True)
    y = frame["objective_response"].astype(int).to_numpy()
    X = planted_terms(frame)
    model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                          LogisticRegression(C=1e4, max_iter=5000))
    aucs = [roc_auc_score(y, cross_val_predict(
        model, X, y, cv=StratifiedKFold(5, shuffle=True, random_state=repeat),
        method="predict_proba")[:, 1]) for repeat in range(1, 6)]
    oracle = roc_auc_score(y, frame["response_probability"])
    return {"benchmark": "oracle_ceiling", "data": str(work), "n_labelled": len(y),
            "oracle_auc": round(float(oracle), 4),
            "correctly_specified_auc": round(float(np.mean(aucs)), 4),
            "correctly_specified_minus_oracle": round(float(np.mean(aucs) - oracle), 4)}


def lasso_auc(X: pd.DataFrame, y: np.ndarray, repeats: int = 3) -> float:
    """Mean over repeats of the 5-fold CV AUC of haicpred's L1 start on X."""
    from haicpred.modeling.linear_start import LinearStart

    aucs = []
    for repeat in range(1, repeats + 1):
        predicted = np.empty(len(y))
        for train, test in StratifiedKFold(5, shuffle=True, random_state=repeat).split(X, y):
            start = LinearStart(seed=1, penalties=("l1",)).fit(X.iloc[train], y[train])
            predicted[test] = start.margin(X.iloc[test])
        aucs.append(roc_auc_score(y, predicted))
    return float(np.mean(aucs))


def decomposition(work: Path) -> dict:
    """The lasso's AUC from the planted columns to every column, one modality at a time."""
    matrix, labels, dictionary, _ = load(work)
    frame = matrix.merge(labels[["sample_id", "objective_response"]], on="sample_id")
    frame = frame[frame["objective_response"].notna()].reset_index(drop=True)
    y = frame["objective_response"].astype(int).to_numpy()
    modality = dictionary.set_index("feature")["modality"]
    features = [f for f in modality.index if f in frame]
    rows = {"planted_columns": lasso_auc(frame[PLANTED_COLUMNS], y)}
    for name in sorted(set(modality)):
        others = [f for f in features if modality[f] == name and f not in PLANTED_COLUMNS]
        rows[f"planted_plus_{name}_{len(others)}"] = lasso_auc(
            frame[PLANTED_COLUMNS + others], y)
    rows[f"all_{len(features)}_columns"] = lasso_auc(frame[features], y)
    return {"benchmark": "lasso_decomposition", "data": str(work),
            **{f"lasso_{k}_auc": round(v, 4) for k, v in rows.items()}}


if __name__ == "__main__":
    decompose = "--decompose" in sys.argv[1:]
    for folder in (a for a in sys.argv[1:] if a != "--decompose"):
        print(json.dumps(ceiling(Path(folder))), flush=True)
        if decompose:
            print(json.dumps(decomposition(Path(folder))), flush=True)
