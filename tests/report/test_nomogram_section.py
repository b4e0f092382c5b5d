"""The report's nomogram section (haicpred.report.nomogram) drawn from a real nomogram.json of
the published-factor Cox model."""

from __future__ import annotations

import base64
import re

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from haicpred.modeling.nomogram import NOMOGRAM_CAPTION, fit_nomogram
from haicpred.modeling.survival_baselines import BASELINE_ALPHA
from haicpred.report.nomogram import nomogram_figure, nomogram_section
from survival_helpers import HORIZONS, weibull_cohort


def nomogram():
    X, y, _ = weibull_cohort(300, 5)
    return fit_nomogram(X, y, ["size", "vp"], HORIZONS, BASELINE_ALPHA,
                        units={"size": "cm", "vp": "0/1"})[1]


def test_the_section_has_the_figure_the_caption_and_the_points_table():
    data = nomogram()
    html = nomogram_section(data)
    assert html.startswith('<section id="nomogram">')
    assert NOMOGRAM_CAPTION in html
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    # one row per factor level or tick value, with its points as in the JSON
    for factor in data["factors"]:
        for point in factor["points"]:
            unit = " cm" if factor["name"] == "size" else ""
            assert (f'<td class="text">{factor["name"]}</td>\n<td class="text">'
                    f'{point["value"]:g}{unit}</td>\n<td>{point["points"]:.1f}</td>') in html
    for h in HORIZONS:
        assert f"<th>S({h:g} months)</th>" in html
    # the same nomogram draws the same bytes
    assert nomogram_section(data) == html


def test_the_figure_places_every_factor_on_the_points_scale():
    data = nomogram()
    fig = nomogram_figure(data)
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["Points", "size", "vp", "Total points",
                      *[f"S({h:g} months)" for h in HORIZONS]]
    texts = {t.get_text() for t in ax.texts}
    assert {"0", "100", "0", "1"} <= texts
    assert any(t.endswith(" cm") for t in texts)
    # every survival mark lies on the drawn 0-100 scale
    positions = [t.get_position()[0] for t in ax.texts]
    assert min(positions) >= 0 and max(positions) <= 100 + 1e-9
    assert np.isfinite(positions).all()


def test_a_nomogram_that_could_not_be_fitted_is_said_so():
    from haicpred.modeling.nomogram import unavailable_nomogram

    html = nomogram_section(unavailable_nomogram("none of the baseline_features carries "
                                                 "information: afp (not in the feature matrix)"))
    assert '<p class="missing">Not available: none of the baseline_features' in html
    assert "<img" not in html
