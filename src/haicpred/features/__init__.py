"""The feature stage: ``matrix`` (rule ``feature_matrix``: the feature matrix, its dictionary
and labels), ``endpoints`` (the configured endpoint's labels) and ``data_checks`` (rule
``data_checks``: missingness and site structure a model would learn instead of biology)."""
