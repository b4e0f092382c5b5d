"""Where the real third-party VCFs live (../shared/realdata/vcf, or $HAICPRED_REALDATA), and a
marker that skips a test cleanly, with the reason, when they are absent. Never copied into the
repository."""

import os
from pathlib import Path

import pytest


def realdata_dir() -> Path:
    env = os.environ.get("HAICPRED_REALDATA")
    base = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "realdata"
    return base / "vcf" if (base / "vcf").is_dir() else base


REAL = realdata_dir()
HAVE_REAL = (REAL / "MANIFEST.tsv").is_file()
SKIP_REASON = f"real VCF files not found at {REAL} (set HAICPRED_REALDATA)"
needs_real = pytest.mark.skipif(not HAVE_REAL, reason=SKIP_REASON)
