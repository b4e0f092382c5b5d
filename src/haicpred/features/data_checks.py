"""Data checks: structure in the cohort that a model would learn instead of biology.

The case that motivated them: one site of a real cohort sent no lab values and all of its
labelled patients died; XGBoost learned "no labs = death" and nothing warned. These checks
look at the feature matrix and the configured endpoint's labels (haicpred.features.endpoints) before
any model is fitted, and write every result to ``results/features/data_checks.tsv``
(``check, subject, statistic, p_value, flagged, message``). Nothing is dropped or changed:
the checks only describe.

Checks (the ``check`` column), computed among the labelled patients unless said otherwise:

``modality_missingness_vs_label`` (subject: modality)
    Does lacking the modality (no value in any of its features) go with the label? Fisher's
    exact test on the 2x2 table missing/present x label; statistic = outcome rate among the
    patients missing it minus the rate among those who have it.
``feature_missingness_vs_label`` (subject: feature)
    The same per feature.
``batch_outcome_rate`` (subject: ``all batches``)
    Does the outcome rate differ between batches? Pearson's chi-square test of the batch x
    label table when every expected count is at least 5, else the Fisher-Freeman-Halton
    question answered by a Monte Carlo permutation test of the chi-square statistic
    (``MONTE_CARLO_PERMUTATIONS`` label permutations, fixed seed); the message says which.
    statistic = Cramer's V.
``batch_single_class`` (subject: batch)
    Does a batch have one outcome class only? statistic = the batch's outcome rate; p_value =
    the probability that a batch of its size has one class only when its patients have the
    other batches' outcome rate (binomial).
``batch_modality_missing`` (subject: ``<batch>: <modality>``; all patients, labels not needed)
    The share of the batch's patients that lack the modality (statistic; no p-value).

Flag rule (``FLAG_RULE``): a test is flagged when its Benjamini-Hochberg-adjusted p-value
within its check is below ``ALPHA`` and its effect reaches a floor (an outcome-rate
difference, or Cramer's V, of at least ``EFFECT_FLOOR``), so that a huge cohort does not flag
trivia; a single-class batch is flagged when its adjusted p-value is below ``ALPHA``; a batch
that lacks a modality entirely while another batch has it is always flagged.

Without labels (a feature-only run of a cohort without outcomes, or a scoring run) only
``batch_modality_missing`` is computed; the label checks get one row each saying why not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from haicpred.features.endpoints import endpoint_labels
from haicpred.features.matrix import not_assessed_features

CHECK_COLUMNS = ["check", "subject", "statistic", "p_value", "flagged", "message"]
CHECKS = ("modality_missingness_vs_label", "feature_missingness_vs_label", "batch_outcome_rate",
          "batch_single_class", "batch_modality_missing")
LABEL_CHECKS = CHECKS[:4]
ALPHA = 0.05
EFFECT_FLOOR = 0.15
MONTE_CARLO_PERMUTATIONS = 10_000
MONTE_CARLO_SEED = 20240613
MIN_EXPECTED = 5  # chi-square's usual condition on every expected count
ID_COLUMNS = ("sample_id", "batch")
FLAG_RULE = (f"flagged when the Benjamini-Hochberg-adjusted p-value within the check is below "
             f"{ALPHA:g} and the effect reaches {EFFECT_FLOOR:g} (outcome-rate difference or "
             f"Cramer's V); a one-class batch when its adjusted p-value is below {ALPHA:g}; a "
             "batch lacking a modality entirely while another batch has it, always")


def benjamini_hochberg(p_values) -> np.ndarray:
    """BH-adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    if not len(tested):
        return adjusted
    order = tested[np.argsort(p[tested], kind="mergesort")]
    ranked = p[order] * len(order) / np.arange(1, len(order) + 1)
    adjusted[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return adjusted


def _rate(part: np.ndarray) -> float:
    return float(part.mean()) if len(part) else float("nan")


def _pct(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{100 * value:.0f}%"


def _missingness_rows(check: str, subjects: list[str], missing: np.ndarray, y: np.ndarray,
                      endpoint: str) -> list[dict]:
    """One row per subject (columns of `missing`, labelled rows only): Fisher's exact test of
    missing vs present against the label."""
    rows = []
    for j, subject in enumerate(subjects):
        gone = missing[:, j]
        n_missing, n_present = int(gone.sum()), int((~gone).sum())
        rate_missing, rate_present = _rate(y[gone]), _rate(y[~gone])
        if n_missing == 0 or n_present == 0:
            which = "has" if n_missing == 0 else "lacks"
            rows.append({"check": check, "subject": subject, "statistic": np.nan,
                         "p_value": np.nan,
                         "message": f"not testable: every labelled patient {which} it"})
            continue
        table = [[int(y[gone].sum()), n_missing - int(y[gone].sum())],
                 [int(y[~gone].sum()), n_present - int(y[~gone].sum())]]
        p = float(stats.fisher_exact(table)[1])
        rows.append({"check": check, "subject": subject,
                     "statistic": rate_missing - rate_present, "p_value": p,
                     "message": (f"{endpoint} = 1 in {_pct(rate_missing)} of the {n_missing} "
                                 f"labelled patients missing it vs {_pct(rate_present)} of the "
                                 f"{n_present} who have it (Fisher's exact test)")})
    return rows


def _chi_square(table: np.ndarray) -> float:
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    return float(((table - expected) ** 2 / expected).sum())


def _permutation_p(codes: np.ndarray, y: np.ndarray, n_batches: int, observed: float,
                   chunk: int = 500) -> float:
    """Monte Carlo p-value of the chi-square statistic over label permutations (both margins
    fixed, as in the Fisher-Freeman-Halton test); fixed seed, so the same data give the same p."""
    rng = np.random.default_rng(MONTE_CARLO_SEED)
    member = np.zeros((n_batches, len(y)))
    member[codes, np.arange(len(y))] = 1.0
    size = member.sum(axis=1)[:, None]
    events = y.sum()
    expected_1 = size * events / len(y)
    expected_0 = size * (len(y) - events) / len(y)
    hits, done = 0, 0
    while done < MONTE_CARLO_PERMUTATIONS:
        k = min(chunk, MONTE_CARLO_PERMUTATIONS - done)
        shuffled = rng.permuted(np.tile(y, (k, 1)), axis=1)
        ones = member @ shuffled.T  # batches x permutations
        statistic = (((ones - expected_1) ** 2 / expected_1)
                     + ((size - ones - expected_0) ** 2 / expected_0)).sum(axis=0)
        hits += int((statistic >= observed - 1e-9).sum())
        done += k
    return (hits + 1) / (MONTE_CARLO_PERMUTATIONS + 1)


def _batch_rate_row(batch: np.ndarray, y: np.ndarray, endpoint: str) -> dict:
    names = sorted(set(batch))
    row = {"check": "batch_outcome_rate", "subject": "all batches"}
    if len(names) < 2:
        return {**row, "statistic": np.nan, "p_value": np.nan,
                "message": f"not applicable: one batch ({', '.join(names) or 'none'})"}
    codes = np.searchsorted(names, batch)
    table = np.zeros((len(names), 2))
    np.add.at(table, (codes, y.astype(int)), 1)
    rates = ", ".join(f"{name} {_pct(table[i, 1] / table[i].sum())} of {int(table[i].sum())}"
                      for i, name in enumerate(names))
    if table[:, 1].sum() in (0, len(y)):
        return {**row, "statistic": np.nan, "p_value": np.nan,
                "message": f"not testable: one outcome class in the whole cohort ({rates})"}
    observed = _chi_square(table)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / len(y)
    if (expected >= MIN_EXPECTED).all():
        p = float(stats.chi2.sf(observed, len(names) - 1))
        method = "Pearson's chi-square test"
    else:
        # Fisher-Freeman-Halton by Monte Carlo: permuting the labels keeps both margins
        p = _permutation_p(codes, y, len(names), observed)
        method = (f"Fisher-Freeman-Halton, Monte Carlo with {MONTE_CARLO_PERMUTATIONS} "
                  "permutations (an expected count below 5)")
    cramers_v = float(np.sqrt(observed / len(y)))  # 2 outcome classes: min(r, c) - 1 = 1
    return {**row, "statistic": cramers_v, "p_value": p,
            "message": f"{endpoint} = 1 rate per batch: {rates} ({method}; statistic = "
                       "Cramer's V)"}


def _single_class_rows(batch: np.ndarray, y: np.ndarray, endpoint: str) -> list[dict]:
    rows = []
    for name in sorted(set(batch)):
        inside = batch == name
        n, events = int(inside.sum()), int(y[inside].sum())
        others = y[~inside]
        row = {"check": "batch_single_class", "subject": name,
               "statistic": events / n}
        if events not in (0, n):
            rows.append({**row, "p_value": np.nan,
                         "message": f"both classes: {endpoint} = 1 in {events} of {n}"})
            continue
        which = f"all {n} labelled patients have {endpoint} = {1 if events else 0}"
        if not len(others):
            rows.append({**row, "p_value": np.nan,
                         "message": f"one outcome class only: {which} (no other batch)"})
            continue
        rate = float(others.mean())
        p = float(rate ** n + (1 - rate) ** n)  # one class only, at the other batches' rate
        rows.append({**row, "p_value": p,
                     "message": (f"one outcome class only: {which}; the other batches have "
                                 f"{_pct(rate)} (binomial probability of one class by chance); "
                                 "a model can learn this batch's features as the outcome")})
    return rows


def _batch_modality_rows(batch: np.ndarray, modality_missing: pd.DataFrame) -> list[dict]:
    rows = []
    names = sorted(set(batch))
    share = {name: modality_missing[batch == name].mean(axis=0) for name in names}
    for modality in modality_missing.columns:
        for name in names:
            value = float(share[name][modality])
            elsewhere = [b for b in names if b != name and share[b][modality] < 1]
            flagged = value == 1 and bool(elsewhere)
            n = int((batch == name).sum())
            message = f"{_pct(value)} of the batch's {n} patients have no {modality} value"
            if flagged:
                message += (f"; other batches have it ({', '.join(elsewhere)}): the model can "
                            "tell this batch by the missing modality")
            rows.append({"check": "batch_modality_missing", "subject": f"{name}: {modality}",
                         "statistic": value, "p_value": np.nan, "flagged": flagged,
                         "message": message})
    return rows


def _flag(rows: list[dict]) -> list[dict]:
    """The flag rule (module docstring), BH within each check; the adjusted p in the message."""
    for check in LABEL_CHECKS:
        family = [r for r in rows if r["check"] == check]
        adjusted = benjamini_hochberg([r["p_value"] for r in family])
        for row, q in zip(family, adjusted):
            effect = abs(row["statistic"]) if np.isfinite(row["statistic"]) else 0.0
            if check == "batch_single_class":
                row["flagged"] = bool(q < ALPHA)
            else:
                row["flagged"] = bool(q < ALPHA and effect >= EFFECT_FLOOR)
            if np.isfinite(q):
                row["message"] += f"; BH-adjusted p {q:.3g}"
    return rows


def modality_of(dictionary: pd.DataFrame, features: list[str]) -> dict[str, str]:
    modality = dict(zip(dictionary["feature"], dictionary["modality"].fillna("unknown")))
    return {f: str(modality.get(f, "unknown")) for f in features}


def run_data_checks(matrix: pd.DataFrame, dictionary: pd.DataFrame,
                    labels: pd.DataFrame | None, endpoint_settings: dict | None
                    ) -> tuple[pd.DataFrame, dict]:
    """(checks table, summary) for the feature matrix and the endpoint's labels.

    ``labels`` is the feature step's labels.tsv (None or without the endpoint's columns = no
    labelled patient: the label checks say so). The summary holds the endpoint name, the
    numbers of labelled patients and batches, and the flagged count.
    """
    features = [c for c in matrix.columns if c not in ID_COLUMNS]
    modality = modality_of(dictionary, features)
    not_assessed = not_assessed_features(dictionary)
    batch_all = matrix["batch"].fillna("(none)").astype(str).to_numpy()
    missing = matrix[features].isna()
    modalities = sorted(set(modality.values()))
    modality_missing = pd.DataFrame(
        {m: missing[[f for f in features if modality[f] == m]].all(axis=1) for m in modalities})

    name = "label"
    label = pd.Series(np.nan, index=matrix.index)
    if labels is not None and len(labels):
        endpoint = endpoint_labels(labels, endpoint_settings)
        name = endpoint.name
        by_id = dict(zip(labels["sample_id"], endpoint.label))
        label = matrix["sample_id"].map(by_id).astype(float)
    labelled = label.notna().to_numpy()
    y = label[labelled].to_numpy(dtype=float)

    rows: list[dict] = []
    if labelled.any():
        batch = batch_all[labelled]
        rows += _missingness_rows("modality_missingness_vs_label", modalities,
                                  modality_missing.to_numpy()[labelled], y, name)
        rows += _missingness_rows("feature_missingness_vs_label", features,
                                  missing.to_numpy()[labelled], y, name)
        # a panel gene the build cannot assess is empty by design, not a missingness signal
        for row in rows:
            build = not_assessed.get(row["subject"], ("", ""))[0]
            if row["check"] == "feature_missingness_vs_label" and build:
                row["message"] = (f"not testable: not assessed on {build} (empty for every "
                                  "patient by design; see feature_dictionary.tsv)")
        rows.append(_batch_rate_row(batch, y, name))
        rows += _single_class_rows(batch, y, name)
        rows = _flag(rows)
    else:
        rows += [{"check": check, "subject": "", "statistic": np.nan, "p_value": np.nan,
                  "flagged": False,
                  "message": f"not computed: no labelled patient for the endpoint {name}"}
                 for check in LABEL_CHECKS]
    rows += _batch_modality_rows(batch_all, modality_missing)

    table = pd.DataFrame(rows, columns=CHECK_COLUMNS)
    table["flagged"] = np.where(table["flagged"].astype(bool), "yes", "no")
    table["_order"] = table["check"].map({c: i for i, c in enumerate(CHECKS)})
    table = table.sort_values(["_order", "subject"], kind="mergesort").drop(columns="_order")
    summary = {"endpoint": name, "n_labelled": int(labelled.sum()),
               "n_batches": len(set(batch_all)), "batches": sorted(set(batch_all)),
               "n_flagged": int((table["flagged"] == "yes").sum())}
    return table.reset_index(drop=True), summary


def summary_line(checks: pd.DataFrame) -> str:
    """One sentence for the log and the report: how many checks flagged, and which."""
    flagged = checks[checks["flagged"] == "yes"]
    if not len(flagged):
        return f"data checks: nothing flagged ({len(checks)} checks; {FLAG_RULE})"
    counts = flagged["check"].value_counts()
    parts = [f"{int(counts[c])} {c}" for c in CHECKS if c in counts.index]
    return (f"data checks: {len(flagged)} of {len(checks)} flagged ({', '.join(parts)}); "
            "see results/features/data_checks.tsv")
