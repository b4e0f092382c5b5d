"""Radiomics: ``features`` (rule ``radiomic_features``: pyradiomics output to per-patient
features, lesions aggregated) and ``preprocessing`` (the steps fitted inside every training
fold: near-constant filter, ComBat harmonisation, correlation filter)."""
