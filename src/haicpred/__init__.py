"""haicpred: predict HCC response to hepatic arterial infusion chemotherapy (HAIC)."""

__version__ = "0.1.0"
