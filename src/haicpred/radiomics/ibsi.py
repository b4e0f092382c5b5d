"""pyradiomics against the IBSI 1 reference values of the digital phantom.

`resources/ibsi_pyradiomics.tsv` maps each pyradiomics feature to its IBSI tag and says what
to expect: `agrees`, `differs` (with the reason: one documented by pyradiomics, such as its
kurtosis without the -3, or one measured here and explained) or `no IBSI feature`.
`compare` extracts the phantom with `resources/radiomics_ibsi_phantom.yaml` and checks every
mapped feature against the consensus value. The IBSI publishes reference values to three
significant digits, with a tolerance that is 0 for most features: a value agrees when it is
within the tolerance plus half a unit of the reference's last published digit.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pandas as pd

from haicpred.io.resources import CHECKOUT_RESOURCES
from haicpred.io.tables import read_tsv
from haicpred.radiomics.extraction import (ImagePair, check_pairs, quiet_pyradiomics,
                                           require_pyradiomics)

MAPPING = CHECKOUT_RESOURCES / "ibsi_pyradiomics.tsv"
PHANTOM_PARAMS = CHECKOUT_RESOURCES / "radiomics_ibsi_phantom.yaml"
SIGNIFICANT_DIGITS = 3
EXPECTATIONS = ("agrees", "differs", "no IBSI feature")


def read_reference(path: str | os.PathLike) -> pd.DataFrame:
    """The IBSI reference table (`tag`, `reference value`, `tolerance`), digital phantom."""
    table = pd.read_csv(path, encoding="utf-8-sig", dtype={"tag": str})
    table = table[table["tag"].notna()]
    return table.set_index("tag")[["family", "feature", "reference value", "tolerance"]]


def allowed_difference(reference: float, tolerance: float,
                       digits: int = SIGNIFICANT_DIGITS) -> float:
    """The tolerance plus half a unit of the reference's last published significant digit."""
    if reference == 0:
        return tolerance
    last_digit = 10 ** (math.floor(math.log10(abs(reference))) - digits + 1)
    return tolerance + last_digit / 2


def extract_phantom(image: str, mask: str, params: str | os.PathLike = PHANTOM_PARAMS) -> dict:
    """pyradiomics features of the phantom (label 1), named `<class>_<feature>`."""
    require_pyradiomics()
    from radiomics import featureextractor

    check_pairs([ImagePair("ibsi_phantom", str(image), str(mask), "IBSI phantom")])
    quiet_pyradiomics()
    result = featureextractor.RadiomicsFeatureExtractor(str(params)).execute(
        str(image), str(mask), label=1)
    return {name.removeprefix("original_"): float(value) for name, value in result.items()
            if name.startswith("original_")}


def compare(features: dict, reference: pd.DataFrame,
            mapping: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per mapped feature: value, reference, allowed difference, agreement, and
    whether that is what the mapping expects (`as_expected`)."""
    mapping = read_tsv(MAPPING) if mapping is None else mapping
    rows = []
    for entry in mapping.itertuples(index=False):
        value = features.get(entry.pyradiomics_feature, np.nan)
        tag = entry.ibsi_tag if isinstance(entry.ibsi_tag, str) and entry.ibsi_tag else ""
        if tag:
            ref = float(reference.loc[tag, "reference value"])
            allowed = allowed_difference(ref, float(reference.loc[tag, "tolerance"]))
            agrees = bool(abs(value - ref) <= allowed) if np.isfinite(value) else False
            observed = "agrees" if agrees else "differs"
        else:
            ref, allowed, observed = np.nan, np.nan, "no IBSI feature"
        reason = entry.reason if isinstance(entry.reason, str) else ""
        rows.append({"pyradiomics_feature": entry.pyradiomics_feature, "ibsi_tag": tag,
                     "value": value, "reference": ref, "allowed_difference": allowed,
                     "observed": observed, "expected": entry.expected,
                     "as_expected": observed == entry.expected, "reason": reason})
    return pd.DataFrame(rows)


def ibsi_check(image: str, mask: str, reference: str | os.PathLike) -> pd.DataFrame:
    """Extract the phantom and compare it with the reference values."""
    return compare(extract_phantom(image, mask), read_reference(reference))
