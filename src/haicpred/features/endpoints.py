"""The endpoint a model predicts, chosen in the config (`endpoint`).

Published HAIC models use binary outcomes and time to event, so both are supported:

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
``survival``
    time to event: ``time_column`` (months) and ``event_column`` (1 = event, 0 = censored),
    evaluated at ``horizons_months``; every patient with follow-up is labelled, censored or not
    (:func:`survival_labels`). A patient without follow-up (both cells empty) is excluded and
    counted; a half-filled, non-positive or non-numeric time or an event other than 0/1 is
    refused (:func:`survival_problems`). Its models: :mod:`haicpred.modeling.survival_endpoint`.

Unlabelled patients are never trained on; they are still scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from haicpred.clinical.clinical_table import RESPONDERS
from haicpred.io.errors import Problem, raise_if_any
from haicpred.io.validation import row_numbers

KINDS = ("objective_response", "survival_horizon", "binary_column", "survival")
SURVIVAL_KIND = "survival"
# only for kind survival (so the binary endpoints' resolved settings, recorded in
# cv_metadata.json and model_metadata.json, stay as they were)
DEFAULT_HORIZONS_MONTHS = (12.0, 24.0, 36.0)
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
    if resolved["kind"] == SURVIVAL_KIND:
        resolved["horizons_months"] = [float(h) for h in resolved.get(
            "horizons_months", DEFAULT_HORIZONS_MONTHS)]
    return resolved


def horizon_problems(settings: dict | None, file: str = "config") -> list[Problem]:
    """endpoint.horizons_months must be a non-empty list of positive, strictly increasing
    numbers (the schema checks the type and sign; the order needs this check)."""
    horizons = (settings or {}).get("horizons_months")
    if horizons is None:
        return []
    numbers = isinstance(horizons, list) and all(
        isinstance(h, (int, float)) and not isinstance(h, bool) for h in horizons)
    if not numbers or not horizons:
        message = "must be a non-empty list of numbers (months)"
    elif any(h <= 0 for h in horizons):
        message = f"{horizons} holds a horizon <= 0"
    elif any(b <= a for a, b in zip(horizons, horizons[1:])):
        message = f"{horizons} is not strictly increasing"
    else:
        return []
    return [Problem(file, "endpoint.horizons_months", message,
                    "list the horizons in months, each once, smallest first, e.g. [12, 24, 36]")]


def endpoint_problems(settings: dict | None, clinical_columns,
                      clinical_file: str = "") -> list[Problem]:
    """Config problems that only the clinical table's columns can reveal (naming the table's
    file when given)."""
    endpoint = resolve_endpoint(settings)
    columns = set(clinical_columns)
    needed = []
    if endpoint["kind"] in ("survival_horizon", SURVIVAL_KIND):
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
    elif kind == SURVIVAL_KIND:
        # the event indicator of the patients with follow-up: what the data checks compare
        # missingness and batches with (the models use survival_labels)
        if {endpoint["time_column"], endpoint["event_column"]} <= set(labels.columns):
            outcome = survival_labels(labels, endpoint)
        else:  # no outcome columns (a feature-only run may have none): nobody labelled
            outcome = survival_labels(labels.assign(**{endpoint["time_column"]: np.nan,
                                                       endpoint["event_column"]: np.nan}),
                                      endpoint)
        label = outcome.event
        name = outcome.name
        definition = (f"{outcome.definition}; as a 1/0 label: {endpoint['event_column']} of the "
                      "patients with follow-up")
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


@dataclass(frozen=True)
class SurvivalOutcome:
    """Time to event for every row of a labels table (NaN in both = no follow-up, excluded)."""

    name: str
    definition: str
    time: pd.Series  # months from treatment start to the event or the last follow-up
    event: pd.Series  # 1 = event, 0 = censored
    horizons: tuple[float, ...]  # months
    n_excluded_no_follow_up: int

    def summary(self) -> dict:
        known = self.event.dropna()
        n_events = int(known.sum())
        return {
            "name": self.name,
            "definition": self.definition,
            "horizons_months": list(self.horizons),
            "n_labelled": int(len(known)),
            "n_events": n_events,
            "n_censored": int(len(known)) - n_events,
            "censored_fraction": (float((len(known) - n_events) / len(known))
                                  if len(known) else float("nan")),
            "n_excluded_no_follow_up": self.n_excluded_no_follow_up,
        }


def _cells(table: pd.DataFrame, column: str) -> pd.Series:
    """The column's cells as text, empty (or absent) = NaN."""
    if column not in table.columns:
        return pd.Series(np.nan, index=table.index, dtype=object)
    text = table[column].astype("string").str.strip()
    return text.where(text.notna() & (text != "")).astype(object)


def survival_problems(table: pd.DataFrame, settings: dict | None, file: str,
                      schema_checked: bool = False) -> list[Problem]:
    """Every row whose follow-up cannot be used, by kind of problem (rows are the table's
    1-based data rows; `file` is the table named in the problems).

    Refused: a time without an event or an event without a time, a time <= 0, a time that is
    not a number, an event other than 0/1. Both cells empty = no follow-up: not a problem (the
    patient is excluded). `schema_checked`: the table already went through the clinical schema,
    which reports non-numbers, negative times and events other than 0/1 itself.
    """
    endpoint = resolve_endpoint(settings)
    time_column, event_column = endpoint["time_column"], endpoint["event_column"]
    if time_column not in table.columns or event_column not in table.columns:
        return []  # endpoint_problems names the missing column
    time_text, event_text = _cells(table, time_column), _cells(table, event_column)
    time = pd.to_numeric(time_text, errors="coerce")
    event = pd.to_numeric(event_text, errors="coerce")
    time = time.where(np.isfinite(time))  # inf and nan are no follow-up times
    leave_empty = "or leave both cells empty if the patient has no follow-up: it is then excluded"
    checks = [
        (time_text.notna() & event_text.isna(), event_column,
         f"is empty while {time_column} has a value",
         f"enter 1 if the event happened at {time_column}, 0 if the patient was censored "
         f"then, {leave_empty}"),
        (event_text.notna() & time_text.isna(), time_column,
         f"is empty while {event_column} has a value",
         f"enter the months from treatment start to the event or last follow-up, {leave_empty}"),
        (time.notna() & (time == 0), time_column,
         "is 0: a follow-up time must be greater than 0",
         f"enter the follow-up in months (0.5 for two weeks), {leave_empty}"),
    ]
    if not schema_checked:
        checks += [
            (time_text.notna() & time.isna(), time_column, "is not a number",
             f"enter the follow-up in months, e.g. 14.5, {leave_empty}"),
            (time.notna() & (time < 0), time_column,
             "is negative: a follow-up time must be greater than 0",
             "enter the months from treatment start to the event or last follow-up"),
            (event_text.notna() & ~event.isin([0.0, 1.0]), event_column, "is not 0 or 1",
             "1 = the event happened, 0 = censored (alive or event-free at the last follow-up)"),
        ]
    problems = []
    for mask, column, message, hint in checks:
        if not mask.any():
            continue
        if not message.startswith("is empty"):  # name the bad values (a few)
            values = sorted(set(table.loc[mask.to_numpy(), column].astype(str)))
            message += f" ({', '.join(map(repr, values[:5]))}{' ...' if len(values) > 5 else ''})"
        problems.append(Problem(file, f"{row_numbers(mask.to_numpy())}, column {column}",
                                message, hint))
    return problems


def survival_labels(labels: pd.DataFrame, settings: dict | None,
                    file: str = "labels.tsv") -> SurvivalOutcome:
    """Time and event of every row of `labels` (the clinical table or the feature step's
    labels.tsv) for the survival endpoint `settings`; InputError with every problem row (see
    :func:`survival_problems`; `file` names the table in them)."""
    endpoint = resolve_endpoint({**(settings or {}), "kind": SURVIVAL_KIND})
    time_column, event_column = endpoint["time_column"], endpoint["event_column"]
    raise_if_any(endpoint_problems(endpoint, labels.columns, file)
                 + survival_problems(labels, endpoint, file))
    time = pd.to_numeric(_cells(labels, time_column), errors="coerce").astype(float)
    # no row is refused by now, so a number is finite and > 0, and NaN means no follow-up
    event = pd.to_numeric(_cells(labels, event_column), errors="coerce").astype(float)
    horizons = tuple(endpoint["horizons_months"])
    definition = (f"time to {event_column} = 1 in {time_column} (months; {event_column} = 0: "
                  f"censored then), evaluated at {', '.join(f'{h:g}' for h in horizons)} "
                  "months; no follow-up (both empty) = unlabelled")
    return SurvivalOutcome(name=f"{time_column}/{event_column}", definition=definition,
                           time=time, event=event, horizons=horizons,
                           n_excluded_no_follow_up=int(time.isna().sum()))
