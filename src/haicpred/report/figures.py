"""The report's figures: matplotlib figures drawn on the Agg canvas (no pyplot global state, a
fixed dpi and no ``Software`` metadata so the bytes are stable) and inlined as base64 PNG data
URIs; the panels (XGBoost against the baselines, against its modality ablations), the colours
of models and modalities, and ROC points."""

from __future__ import annotations

import base64
import io

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from haicpred.report.html import esc
from haicpred.report.layout import MODALITY_ORDER, ablation_variant

_DPI = 100


def png_base64(fig: Figure) -> str:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def figure_html(fig: Figure, alt: str, caption: str) -> str:
    data = png_base64(fig)
    return (
        f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def panel_axes(panels) -> tuple[Figure, list]:
    fig = Figure(figsize=(6.0 if len(panels) == 1 else 11.6, 5.6))
    return fig, [fig.add_subplot(1, len(panels), i + 1) for i in range(len(panels))]


def figure_panels(order: list[str], shown=None) -> list[tuple[str, list[str]]]:
    """Models split for the figures: XGBoost against the baselines, and (when there are any
    among `shown`, the models with data for the figure) XGBoost against its modality
    ablations."""
    shown = set(order if shown is None else shown)
    main = [n for n in order if not ablation_variant(n)]
    ablations = [n for n in order if ablation_variant(n) and n in shown]
    panels = [("XGBoost and baselines", main)]
    if ablations:
        panels.append(("modality ablation", [n for n in ("xgboost",) if n in order] + ablations))
    return panels


def model_colours(names: list[str]) -> dict:
    """XGBoost red, the oracle grey; the others of each figure panel (baselines, ablations)
    coloured in turn, from tab20 when a panel has more than eight."""
    colours = {"xgboost": matplotlib.colormaps["tab10"].colors[3], "oracle": "0.45"}
    for _, members in figure_panels(list(names)):
        others = [n for n in members if n not in colours]
        if len(others) <= 8:
            base = matplotlib.colormaps["tab10"].colors
            palette = [base[i] for i in (0, 2, 4, 1, 5, 6, 8, 9)]
        else:
            base = matplotlib.colormaps["tab20"].colors
            palette = [c for i, c in enumerate(base) if i not in (6, 7)]  # reds: xgboost's
        for i, name in enumerate(others):
            colours[name] = palette[i % len(palette)]
    return colours


def modality_colours(modalities) -> dict:
    present = set(modalities)
    order = [m for m in MODALITY_ORDER if m in present] + sorted(
        present - set(MODALITY_ORDER))
    palette = matplotlib.colormaps["tab10"].colors
    return {m: palette[i % 10] for i, m in enumerate(order)}


def roc_points(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return fpr, tpr
