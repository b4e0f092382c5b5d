"""The survival report's sections with figures (issue 15 point 9): time-dependent AUC per
horizon, calibration at each horizon (predicted S(h) against the Kaplan-Meier S(h) by risk
decile, ``calibration.tsv``) and the Kaplan-Meier curves by risk group with numbers at risk and
the log-rank test (``km_risk_groups.tsv``, :mod:`haicpred.modeling.survival_risk_groups`).
Figures are drawn like every other figure of the report (:mod:`haicpred.report.figures`)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from haicpred.modeling.survival_curves import km_survival_at
from haicpred.modeling.survival_risk_groups import km_risk_groups
from haicpred.report.figures import figure_html, figure_panels, panel_axes
from haicpred.report.html import ci, esc, fmt, html_table, integer, num, p_value
from haicpred.report.layout import ablation_variant, section

__all__ = ["KM_RISK_GROUPS_FILE", "horizon_columns", "td_auc_section",
           "survival_calibration_section", "risk_groups_section", "at_risk_times"]

KM_RISK_GROUPS_FILE = "results/model/km_risk_groups.tsv"
_GROUP_COLOURS = {"low": "#2a9d3f", "intermediate": "#e08a1e", "high": "#c0392b"}
_AUC_COLUMN = re.compile(r"^auc_(.+)m$")


def horizon_columns(metrics: pd.DataFrame) -> list[tuple[str, float]]:
    """(label, months) of every ``auc_<h>m`` column of metrics.tsv, in column order."""
    out = []
    for column in metrics.columns:
        match = _AUC_COLUMN.match(str(column))
        if match:
            try:
                out.append((match.group(1), float(match.group(1))))
            except ValueError:
                continue
    return out


def _main_models(order: list[str], present) -> list[str]:
    present = set(present)
    return [n for n in order if not ablation_variant(n) and n in present]


def td_auc_section(metrics: pd.DataFrame, order: list[str], colours: dict) -> str:
    """A table (model x horizon, AUC with its CI) and a figure of AUC(h) with CI bars."""
    horizons = horizon_columns(metrics)
    if not horizons:
        return section("td-auc", '<p class="missing">Not available: metrics.tsv has no '
                       "<code>auc_&lt;h&gt;m</code> column.</p>")
    names = _main_models(order, metrics.index)
    rows = [[f"<b>{esc(n)}</b>"] + [ci(metrics.loc[n], f"auc_{label}m") for label, _ in horizons]
            for n in names]
    classes = ["headline" if n == "xgboost" else "oracle" if n == "oracle" else "" for n in names]
    table = html_table(["model"] + [f"AUC at {esc(label)} months [95% CI]"
                                    for label, _ in horizons], rows, row_classes=classes)
    panels = figure_panels(order, set(metrics.index))
    fig, axes = panel_axes(panels)
    months = np.array([h for _, h in horizons])
    step = (months.max() - months.min() or months.max()) * 0.012
    described = []
    for ax, (title, members) in zip(axes, panels):
        members = [n for n in members if n in metrics.index]
        for i, name in enumerate(members):
            row = metrics.loc[name]
            auc = np.array([row.get(f"auc_{label}m", np.nan) for label, _ in horizons])
            low = np.array([row.get(f"auc_{label}m_low", np.nan) for label, _ in horizons])
            high = np.array([row.get(f"auc_{label}m_high", np.nan) for label, _ in horizons])
            x = months + (i - (len(members) - 1) / 2) * step
            ax.errorbar(x, auc, yerr=[np.clip(auc - low, 0, None), np.clip(high - auc, 0, None)],
                        color=colours[name], marker="o", markersize=4, capsize=2,
                        linewidth=2.2 if name == "xgboost" else 1.2,
                        linestyle="--" if name == "oracle" else "-", label=name)
            described.append(f"{name} " + ", ".join(
                f"{fmt(a)} at {label} m" for a, (label, _) in zip(auc, horizons)))
        ax.axhline(0.5, linestyle=":", color="0.6", linewidth=1)
        ax.set_xticks(months)
        ax.set_xlabel("horizon (months)")
        ax.set_ylabel("cumulative/dynamic AUC")
        ax.set_ylim(0.3, 1.0)
        ax.set_title(f"Time-dependent AUC, {title}", fontsize=10)
        ax.legend(loc="lower left", fontsize=7)
    fig.tight_layout()
    alt = ("Time-dependent AUC with 95% CI bars at each horizon: "
           + "; ".join(dict.fromkeys(described)) + ".")
    caption = ("Cumulative/dynamic AUC at each horizon h (cases: the event by h; controls: "
               "event-free after h; inverse-probability-of-censoring weighted) of the "
               "repeat-averaged out-of-fold risk, with stratified-bootstrap 95% CIs "
               "(<code>metrics.tsv</code>); dotted: no discrimination.")
    return section("td-auc", table + figure_html(fig, alt, caption))


def survival_calibration_section(calibration: pd.DataFrame, averaged: pd.DataFrame,
                                 order: list[str], colours: dict) -> str:
    """Per horizon: a panel of mean predicted S(h) against the Kaplan-Meier S(h) of each risk
    decile (``calibration.tsv``), and a table of calibration-in-the-large (mean predicted S(h)
    against the cohort's Kaplan-Meier S(h)). ``averaged``: the repeat-averaged OOF table
    (sample_id, model, time, event, risk, surv_<h>m)."""
    cal = calibration.copy()
    if cal.empty:
        return section("calibration", '<p class="missing">Not available: calibration.tsv has '
                       "no rows.</p>")
    for column in ("horizon", "bin", "mean_predicted", "observed_km", "n"):
        cal[column] = num(cal[column])
    cal["model"] = cal["model"].astype(str)
    horizons = sorted(cal["horizon"].dropna().unique())
    names = _main_models(order, cal["model"].unique())
    fig = Figure(figsize=(min(4.0 * len(horizons), 12.0) + 0.4, 4.4))
    axes = [fig.add_subplot(1, len(horizons), i + 1) for i in range(len(horizons))]
    for ax, horizon in zip(axes, horizons):
        ax.plot([0, 1], [0, 1], linestyle=":", color="0.6", linewidth=1, label="ideal")
        for name in names:
            part = cal[(cal["model"] == name) & (cal["horizon"] == horizon)].sort_values("bin")
            ax.plot(part["mean_predicted"], part["observed_km"], marker="o", markersize=3.5,
                    color=colours[name], linewidth=2.2 if name == "xgboost" else 1.1,
                    linestyle="--" if name == "oracle" else "-", label=name)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel(f"mean predicted S({horizon:g} months)")
        ax.set_ylabel(f"Kaplan-Meier S({horizon:g} months)")
        ax.set_title(f"{horizon:g} months", fontsize=10)
        ax.legend(loc="upper left", fontsize=6)
    fig.tight_layout()
    alt = (f"Calibration at {', '.join(f'{h:g}' for h in horizons)} months: Kaplan-Meier "
           "survival against mean predicted survival in ten risk deciles, with the diagonal "
           f"of ideal calibration, for {', '.join(names)}.")
    rows = []
    time, event = None, None
    for name in names:
        part = averaged[averaged["model"] == name]
        if part.empty:
            continue
        time, event = part["time"].to_numpy(float), part["event"].to_numpy(int)
        cells = [f"<b>{esc(name)}</b>"]
        for horizon in horizons:
            column = f"surv_{horizon:g}m"
            predicted = part[column].mean() if column in part else np.nan
            cells.append(fmt(predicted))
        rows.append(cells)
    observed = (km_survival_at(time, event, horizons) if time is not None
                else np.full(len(horizons), np.nan))
    rows.append(["<i>Kaplan-Meier, all patients</i>"] + [fmt(v) for v in observed])
    table = html_table(["model"] + [f"mean predicted S({h:g} m)" for h in horizons], rows)
    return section("calibration", figure_html(
        fig, alt, "Predicted against observed survival at each horizon: patients sorted by "
        "out-of-fold risk and split into ten equal deciles; x = their mean predicted S(h) "
        "(Breslow baseline hazard of each training fold), y = their Kaplan-Meier S(h) "
        "(<code>calibration.tsv</code>; a decile whose follow-up ends before h has no point). "
        "Points on the diagonal: calibrated.")
        + "<h3>Calibration in the large</h3>" + table
        + '<p class="note">Mean predicted S(h) over all patients with follow-up against the '
        "cohort's Kaplan-Meier S(h) (last row).</p>")


def at_risk_times(last_time: float) -> np.ndarray:
    """The times under a Kaplan-Meier plot where numbers at risk are shown: 0 and every step
    (3, 6, 12, 24, 36 or 60 months: the smallest giving at most 8 columns) up to the last
    follow-up."""
    for step in (3.0, 6.0, 12.0, 24.0, 36.0, 60.0):
        if last_time / step <= 7:
            break
    return np.arange(0.0, last_time + 1e-9, step)


def _km_table(km: pd.DataFrame) -> pd.DataFrame:
    km = km.copy()
    for column in km.columns:
        if column not in ("group", "rule", "model"):
            km[column] = num(km[column])
    km["group"] = km["group"].astype(str)
    return km


def _at_risk(curve: pd.DataFrame, times: np.ndarray) -> list[int]:
    """Numbers at risk at ``times``: those of the first row at or after each time."""
    values = curve["time"].to_numpy()
    at_risk = curve["n_at_risk"].to_numpy()
    index = np.searchsorted(values, times, side="left")
    return [int(at_risk[i]) if i < len(values) else 0 for i in index]


def _step_value(curve: pd.DataFrame, column: str, horizon: float) -> float:
    """The step function ``column`` of a Kaplan-Meier table at ``horizon`` (1 before the first
    time; NaN past the last time unless S already reached 0)."""
    times = curve["time"].to_numpy()
    index = np.searchsorted(times, horizon, side="right")
    if index == 0:
        return 1.0
    if horizon > times[-1] and curve["survival"].iloc[-1] > 0:
        return float("nan")
    return float(curve[column].iloc[index - 1])


def _p_text(p: float) -> str:
    """'p = 0.012' or 'p < 0.001' (plain text)."""
    text = p_value(p)
    return "p < 0.001" if text.startswith("&lt;") else f"p = {text}"


def risk_groups_section(km: pd.DataFrame | None, oof: pd.DataFrame, horizons) -> str:
    """Kaplan-Meier curves of the risk groups with 95% bands, numbers at risk, per-group
    summary and the log-rank test. Without ``km_risk_groups.tsv`` the table is computed here
    from ``oof`` with tertiles, and the section says so."""
    note = ""
    if km is None:
        note = (f'<p class="missing">Not available (file <code>{KM_RISK_GROUPS_FILE}</code> '
                "not produced): the risk groups below are the tertiles of the out-of-fold "
                "risk, computed here from <code>oof_predictions.tsv</code>.</p>")
        km = km_risk_groups(oof, "tertiles")
    km = _km_table(km)
    groups = list(dict.fromkeys(km["group"]))
    first = km.drop_duplicates("group").set_index("group")
    last = float(km["time"].max())
    times = at_risk_times(last)
    fig = Figure(figsize=(7.6, 6.0))
    ax = fig.add_axes((0.16, 0.34, 0.8, 0.6))
    table_ax = fig.add_axes((0.16, 0.03, 0.8, 0.18))
    described = []
    for row, group in enumerate(groups):
        curve = km[km["group"] == group].sort_values("time", kind="mergesort")
        colour = _GROUP_COLOURS.get(group, "0.3")
        x = np.concatenate([[0.0], curve["time"]])
        ax.step(x, np.concatenate([[1.0], curve["survival"]]), where="post", color=colour,
                linewidth=1.8, label=f"{group} (n={int(first.loc[group, 'group_n'])})")
        ax.fill_between(x, np.concatenate([[1.0], curve["survival_low"]]),
                        np.concatenate([[1.0], curve["survival_high"]]), step="post",
                        color=colour, alpha=0.15, linewidth=0)
        censored = curve[curve["n_censored"] > 0]
        ax.plot(censored["time"], censored["survival"], linestyle="none", marker="|",
                markersize=6, color=colour)
        counts = _at_risk(curve, times)
        for t, count in zip(times, counts):
            table_ax.text(t, len(groups) - 1 - row, str(count), ha="center", va="center",
                          fontsize=8, color=colour)
        described.append(f"{group}: {int(first.loc[group, 'group_n'])} patients, "
                         f"{int(first.loc[group, 'group_events'])} events")
    p = first["logrank_p"].iloc[0]
    ax.set_xlim(-0.02 * last - 0.5, last * 1.02 + 0.5)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(times)
    ax.set_xlabel("months")
    ax.set_ylabel("survival probability")
    ax.set_title(f"Kaplan-Meier by risk group (log-rank {_p_text(p)})", fontsize=10)
    ax.legend(loc="upper right", fontsize=8)
    table_ax.set_xlim(ax.get_xlim())
    table_ax.set_ylim(-0.5, len(groups) - 0.5)
    table_ax.set_yticks(range(len(groups)), labels=list(reversed(groups)), fontsize=8)
    table_ax.set_xticks([])
    table_ax.tick_params(axis="y", length=0)
    table_ax.set_title("numbers at risk", fontsize=8, loc="left")
    for side in ("top", "right", "bottom", "left"):
        table_ax.spines[side].set_visible(False)
    alt = ("Kaplan-Meier curves of the risk groups with 95% confidence bands and numbers at "
           f"risk: {'; '.join(described)}; log-rank {_p_text(p)}.")
    caption = (f"Kaplan-Meier survival of the risk groups ({esc(first['rule'].iloc[0])}; "
               f"<code>{KM_RISK_GROUPS_FILE}</code>), with 95% log-log confidence bands; ticks "
               "mark censored patients; numbers at risk below.")
    cutoffs = (first["cutoff_1"].iloc[0], first["cutoff_2"].iloc[0])
    ranges = {"low": f"&lt; {fmt(cutoffs[0])}", "intermediate": f"{fmt(cutoffs[0])} to "
              f"&lt; {fmt(cutoffs[1])}", "high": f"&ge; {fmt(cutoffs[1])}"}
    rows = []
    for group in groups:
        curve = km[km["group"] == group].sort_values("time", kind="mergesort")
        reached = curve["time"][curve["survival"] <= 0.5]
        cells = [esc(group), ranges.get(group, ""), integer(first.loc[group, "group_n"]),
                 integer(first.loc[group, "group_events"]),
                 fmt(reached.iloc[0], 1) if len(reached) else "not reached"]
        for horizon in horizons:
            values = {c: _step_value(curve, c, horizon)
                      for c in ("survival", "survival_low", "survival_high")}
            cells.append(f"{fmt(values['survival'])} [{fmt(values['survival_low'])}, "
                         f"{fmt(values['survival_high'])}]")
        rows.append(cells)
    summary = html_table(["risk group", f"{esc(first['model'].iloc[0])} risk", "patients",
                          "events", "median survival (months)",
                          *[f"S({h:g} m) [95% CI]" for h in horizons]], rows,
                         text_columns=(0, 1))
    at_risk = html_table(["numbers at risk"] + [f"{t:g} m" for t in times],
                         [[esc(g)] + [str(c) for c in _at_risk(
                             km[km["group"] == g].sort_values("time", kind="mergesort"), times)]
                          for g in groups])
    test = (f"<p><b>Log-rank test</b> across the {len(groups)} groups: &chi;&sup2; = "
            f"{fmt(first['logrank_chi2'].iloc[0], 2)} on {integer(first['logrank_df'].iloc[0])} "
            f"degree{'s' if first['logrank_df'].iloc[0] != 1 else ''} of freedom, "
            f"{esc(_p_text(p))}.</p>")
    return section("risk-groups", note + test + figure_html(fig, alt, caption) + summary
                   + at_risk + '<p class="note">Risk: the out-of-fold risk (log relative '
                   "hazard) of each patient averaged over the CV repeats, from models not "
                   "fitted on that patient; groups: low risk &lt; c1 &le; intermediate &lt; c2 "
                   "&le; high. The frozen model assigns new patients to groups with the same "
                   "rule (config <code>predict.risk_groups</code>).</p>")
