"""Versions of haicpred, Python and installed distributions, read from package metadata (no
imports: a rule's conda env need not contain every package listed)."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version


def package_versions(packages) -> dict:
    """{name: version} for haicpred, python and each installed distribution in `packages`;
    one that is not installed here is left out."""
    from haicpred import __version__

    out = {"haicpred": __version__, "python": ".".join(map(str, sys.version_info[:3]))}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return dict(sorted(out.items()))
