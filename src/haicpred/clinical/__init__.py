"""Clinical tables: ``clinical_table`` (the clinical table and its encodings), ``biomarkers``
(rule ``baseline_biomarkers``: units normalised, baseline values, on-treatment changes),
``indices`` (ALBI, Child-Pugh, NLR, SII and the other published indices and scores) and
``extra_modalities`` (any further per-patient table)."""
