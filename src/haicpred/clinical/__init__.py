"""Clinical tables: the clinical table, blood biomarkers, published indices, extra modalities."""
