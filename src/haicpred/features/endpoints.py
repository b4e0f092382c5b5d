"""The binary endpoint a model predicts, chosen in the config (`endpoint`).

Published HAIC models use both kinds, so both are supported:

``objective_response`` (default)
    1 when the mRECIST best response is CR or PR, 0 when SD or PD; missing best response =
    unlabelled. Positive = favourable.
``survival_horizon``
    1 when the event (``event_column``, e.g. ``os_event``) happened by ``horizon_months`` of
    ``time_column`` (e.g. ``os_months``), 0 when the patient was followed event-free to the
    horizon (time >= horizon, or an event after it). A patient censored before the horizon has
    an unknown status: excluded and counted, never guessed. Positive = adverse.
``binary_column``
    any 0/1 ``outcome_*`` column of the clinical table; ``favourable`` says which way it
    points (it sets the direction of the published-score baselines).

Unlabelled patients are never trained on; they are still scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from haicpred.clinical.clinical_table import RESPONDERS
from haicpred.io.errors import Problem

KINDS = ("objective_response", "survival_horizon", "binary_column")
SURVIVAL_COLUMNS = {"os_months": "os_event", "pfs_months": "pfs_event"}
DEFAULT_ENDPOINT = {
    "kind": "objective_response",
    "time_column": "os_months",
    "event_column": "os_event",
    "horizon_months": 12.0,
    "column": "",
    "favourable": True,
}


@dataclass(frozen=True)
class Endpoint:
    """Labels (1/0/NaN per row of the labels table) and how they came about."""

    name: str
    definition: str
    favourable: bool  # does label 1 mean the better outcome?
    label: pd.Series
    n_censored_before_horizon: int
    n_missing: int

    def summary(self) -> dict:
        known = self.label.dropna()
        return {
            "name": self.name,
            "definition": self.definition,
            "positive_is_favourable": self.favourable,
            "n_labelled": int(len(known)),
            "n_positive": int(known.sum()),
            "n_censored_before_horizon": self.n_censored_before_horizon,
            "n_missing": self.n_missing,
        }


def resolve_endpoint(settings: dict | None) -> dict:
    resolved = {**DEFAULT_ENDPOINT, **(settings or {})}
    if resolved["kind"] not in KINDS:
        raise ValueError(f"endpoint.kind {resolved['kind']!r} is not one of {', '.join(KINDS)}")
    return resolved


def endpoint_problems(settings: dict | None, clinical_columns,
                      clinical_file: str = "") -> list[Problem]:
    """Config problems that only the clinical table's columns can reveal (naming the table's
    file when given)."""
    endpoint = resolve_endpoint(settings)
    columns = set(clinical_columns)
    needed = []
    if endpoint["kind"] == "survival_horizon":
        needed = [endpoint["time_column"], endpoint["event_column"]]
    elif endpoint["kind"] == "binary_column":
        needed = [endpoint["column"]]
    elif endpoint["kind"] == "objective_response":
        needed = ["best_response"]
    return [
        Problem("config", f"endpoint ({endpoint['kind']})",
                f"needs column {name!r}, which the clinical table "
                f"{clinical_file + ' ' if clinical_file else ''}does not have",
                "add the column to the clinical table or choose another endpoint")
        for name in needed if name not in columns
    ]


def _numbers(labels: pd.DataFrame, column: str) -> pd.Series:
    if column not in labels.columns:
        return pd.Series(np.nan, index=labels.index)
    return pd.to_numeric(labels[column], errors="raise").astype(float)


def endpoint_labels(labels: pd.DataFrame, settings: dict | None) -> Endpoint:
    """The endpoint for every row of `labels` (the feature step's labels.tsv)."""
    endpoint = resolve_endpoint(settings)
    kind = endpoint["kind"]
    censored = 0
    if kind == "objective_response":
        response = labels["best_response"] if "best_response" in labels.columns else pd.Series(
            pd.NA, index=labels.index)
        response = response.where(response.notna() & (response.astype(str) != ""))
        label = response.isin(RESPONDERS).astype(float).where(response.notna())
        name = "objective_response"
        definition = ("1 when the mRECIST best response is CR or PR, 0 when SD or PD; "
                      "missing best response = unlabelled")
        favourable = True
    elif kind == "survival_horizon":
        time = _numbers(labels, endpoint["time_column"])
        event = _numbers(labels, endpoint["event_column"])
        horizon = float(endpoint["horizon_months"])
        by_horizon = (event == 1) & (time <= horizon)
        beyond = time >= horizon  # followed to the horizon (event-free there, or event later)
        label = pd.Series(np.where(by_horizon, 1.0, np.where(beyond, 0.0, np.nan)),
                          index=labels.index)
        label = label.where(time.notna() & event.notna())
        censored = int(((event == 0) & (time < horizon)).sum())
        name = f"{endpoint['event_column']}_by_{horizon:g}_months"
        definition = (f"1 when {endpoint['event_column']} = 1 with {endpoint['time_column']} <= "
                      f"{horizon:g}; 0 when {endpoint['time_column']} >= {horizon:g} without an "
                      f"event by then; censored before {horizon:g} months = unlabelled")
        favourable = False
    else:
        column = endpoint["column"]
        label = _numbers(labels, column)
        bad = label.notna() & ~label.isin([0.0, 1.0])
        if bad.any():
            raise ValueError(f"endpoint column {column} has values other than 0/1")
        name = column
        definition = f"clinical column {column} (1/0; missing = unlabelled)"
        favourable = bool(endpoint["favourable"])
    n_missing = int(label.isna().sum()) - censored
    return Endpoint(name, definition, favourable, label.astype(float), censored, n_missing)
