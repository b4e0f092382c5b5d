"""Radiomic features: reading pyradiomics output, lesion aggregation, the in-fold preprocessing."""
