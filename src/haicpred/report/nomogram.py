"""The report's nomogram section (issue 15 point 6): the Cox model refitted on the published
factors, drawn as clinicians read a nomogram (a points scale, one line per factor, total points,
predicted survival at each horizon), with its points table. Input: ``nomogram.json`` of the
final-model step (:mod:`haicpred.modeling.nomogram`)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from haicpred.report.figures import figure_html
from haicpred.report.html import esc, fmt, html_table
from haicpred.report.layout import section

SECTION_ID = "nomogram"
SECTION_TITLE = "Nomogram (Cox model on the published factors)"
# the survival probabilities marked on each horizon's scale
SURVIVAL_TICKS = (0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05)
# rows of the total-points table: every TOTAL_STEP-th value of the nomogram's grid
TOTAL_STEP = 10


def _value_text(value: float, factor: dict) -> str:
    """A factor's value, with its unit when continuous (a level's unit is a coding: 0/1, 1-3)."""
    text = f"{value:g}"
    return f"{text} {factor['unit']}" if factor["kind"] == "continuous" and factor["unit"] else text


def _total_ticks(max_total: float) -> list[float]:
    step = 10.0 ** math.floor(math.log10(max_total / 4)) if max_total > 0 else 1.0
    step = next(m * step for m in (1, 2, 2.5, 5, 10) if max_total / (m * step) <= 6)
    return [float(v) for v in np.arange(0.0, max_total + 1e-9, step)]


def _points_of_survival(nomogram: dict, horizon_index: int, survival: float) -> float | None:
    """The total points at which S(h) equals ``survival`` (None when S(h) never moves)."""
    baseline = nomogram["baseline_cumulative_hazard_at_horizons"][horizon_index]
    if baseline <= 0:
        return None
    linear = math.log(-math.log(survival) / baseline)
    return ((linear - nomogram["linear_predictor_at_zero_points"])
            * nomogram["points_per_unit_linear_predictor"])


def nomogram_figure(nomogram: dict) -> Figure:
    """The nomogram: points scale on top, a line per factor, total points, S(h) per horizon."""
    factors, horizons = nomogram["factors"], nomogram["horizons_months"]
    max_total = nomogram["max_total_points"]
    rows = 2 + len(factors) + len(horizons)
    fig = Figure(figsize=(8.4, 0.62 * rows + 1.0))
    ax = fig.add_subplot(1, 1, 1)

    def scale_row(y: float, positions, labels, colour="0.15", extent=None):
        positions = list(positions)
        extent = extent or ((min(positions), max(positions)) if positions else None)
        if extent:
            ax.plot(list(extent), [y, y], color=colour, lw=1.2)
        for x, label in zip(positions, labels):
            ax.plot([x, x], [y, y + 0.12], color=colour, lw=1.0)
            ax.text(x, y + 0.17, label, ha="center", va="bottom", fontsize=7.5)

    names = ["Points"]
    y = rows - 1
    scale_row(y, range(0, 101, 10), [str(v) for v in range(0, 101, 10)])
    for factor in factors:
        y -= 1
        names.append(factor["name"])
        # the line spans the training range: 0 points at its lowest-risk end
        scale_row(y, [p["points"] for p in factor["points"]],
                  [_value_text(p["value"], factor) for p in factor["points"]],
                  colour="tab:blue", extent=(0.0, factor["max_points"]))
    y -= 1
    names.append("Total points")
    ticks = _total_ticks(max_total)
    scale_row(y, [100.0 * t / max_total for t in ticks], [f"{t:g}" for t in ticks])
    for index, horizon in enumerate(horizons):
        y -= 1
        names.append(f"S({horizon:g} months)")
        marks = [(s, _points_of_survival(nomogram, index, s)) for s in SURVIVAL_TICKS]
        marks = [(s, t) for s, t in marks if t is not None and 0 <= t <= max_total]
        scale_row(y, [100.0 * t / max_total for _, t in marks], [f"{s:g}" for s, _ in marks],
                  colour="tab:red")
    ax.set_yticks(np.arange(rows - 1, -1, -1))
    ax.set_yticklabels(names, fontsize=8.5)
    ax.set_ylim(-0.6, rows - 0.3)
    ax.set_xlim(-6, 106)
    ax.set_xticks([])
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.set_title(f"Nomogram, {nomogram['n']} patients ({nomogram['n_events']} events)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def _points_table(nomogram: dict) -> str:
    rows = []
    for factor in nomogram["factors"]:
        for point in factor["points"]:
            rows.append([esc(factor["name"]), esc(_value_text(point["value"], factor)),
                         fmt(point["points"], 1),
                         fmt(factor["hazard_ratio_per_unit"], 3)])
    return html_table(["factor", "value", "points", "hazard ratio per unit"], rows,
                      text_columns=(0, 1))


def _survival_table(nomogram: dict) -> str:
    grid = nomogram["survival_by_total_points"]
    header = ["total points", *[f"S({h:g} months)" for h in nomogram["horizons_months"]]]
    rows = [[fmt(total, 1), *[fmt(s, 3) for s in survival]]
            for total, survival in list(zip(grid["total_points"], grid["survival"]))[
                ::TOTAL_STEP]]
    return html_table(header, rows, text_columns=())


def nomogram_section(nomogram: dict) -> str:
    """The section: the figure, the points per factor level (or tick value) and S(h) against
    total points; a note with the reason when no nomogram could be fitted."""
    if not nomogram.get("available", True):
        return section(SECTION_ID, f'<p class="missing">Not available: '
                                   f'{esc(nomogram.get("reason", ""))}.</p>',
                       title=SECTION_TITLE)
    caption = (esc(nomogram["caption"]) + ". " + esc(
        f"Refitted on the {nomogram['n']} labelled patients ({nomogram['n_events']} events) "
        "of this cohort; the factor with the largest effect over its training range "
        f"({nomogram['reference_factor']}) spans 0-100 points; a missing value counts as the "
        "training median; survival from the refit's Breslow baseline hazard."))
    alt = ("Nomogram: a points scale from 0 to 100, one scale per factor ("
           + ", ".join(f["name"] for f in nomogram["factors"])
           + "), total points, and predicted survival at "
           + ", ".join(f"{h:g}" for h in nomogram["horizons_months"]) + " months.")
    left_out = nomogram.get("factors_left_out") or {}
    note = ("" if not left_out else "<p>Factors left out: " + esc(
        ", ".join(f"{name} ({why})" for name, why in left_out.items())) + ".</p>")
    body = (figure_html(nomogram_figure(nomogram), alt, caption) + note
            + "<h3>Points per factor</h3>" + _points_table(nomogram)
            + "<h3>Predicted survival by total points</h3>" + _survival_table(nomogram))
    return section(SECTION_ID, body, title=SECTION_TITLE)
