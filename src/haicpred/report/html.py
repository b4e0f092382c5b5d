"""HTML fragments shared by the report's modules (haicpred.report.*): escaping, number formats
and tables. Every text that comes from data goes through `esc`."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd


def num(series) -> pd.Series:
    """Float64 with NaN for missing (text, nullable dtypes and pd.NA all accepted)."""
    values = pd.to_numeric(pd.Series(series), errors="coerce")
    return pd.Series(values.to_numpy(dtype=float, na_value=np.nan), index=values.index)


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def _finite(value) -> float | None:
    """The value as a finite float, or None (shown as a dash)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def fmt(value, digits: int = 3) -> str:
    value = _finite(value)
    if value is None:
        return "&ndash;"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def p_value(value) -> str:
    """A p-value: three decimals, '&lt;0.001' below that."""
    value = _finite(value)
    if value is None:
        return "&ndash;"
    return "&lt;0.001" if value < 0.001 else f"{value:.3f}"


def integer(value) -> str:
    value = _finite(value)
    return "&ndash;" if value is None else str(int(round(value)))


def pct(part: float, whole: float) -> str:
    return "&ndash;" if not whole else f"{100.0 * part / whole:.1f}%"


def ci(row, key: str = "auc") -> str:
    """A value of ``row`` with its 95% CI from ``<key>_low`` and ``<key>_high``:
    ``0.712 [0.601, 0.815]``."""
    return f"{fmt(row.get(key))} [{fmt(row.get(key + '_low'))}, {fmt(row.get(key + '_high'))}]"


def html_table(header: list[str], rows: list[list[str]], text_columns=(0,), row_classes=None):
    """Cells are already-escaped HTML fragments."""
    out = ['<div class="table-wrap"><table>', "<tr>"]
    for i, name in enumerate(header):
        cls = ' class="text"' if i in text_columns else ""
        out.append(f"<th{cls}>{name}</th>")
    out.append("</tr>")
    for r, row in enumerate(rows):
        cls = row_classes[r] if row_classes else ""
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        for i, cell in enumerate(row):
            tcls = ' class="text"' if i in text_columns else ""
            out.append(f"<td{tcls}>{cell}</td>")
        out.append("</tr>")
    out.append("</table></div>")
    return "\n".join(out)
