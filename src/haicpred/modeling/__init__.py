"""Models. Rule ``cross_validate_models``: ``cross_validation`` (the outcome-independent CV loop),
with ``settings`` (frozen settings resolved once), ``endpoint`` (what the loop asks of an
outcome), ``inputs``, ``estimators``, ``tuning`` (nested search), ``lobo``
(leave-one-batch-out), ``evaluation``, ``metrics``, ``score_baselines`` and ``parallel``. Rule
``permutation_check``: ``permutation``. Rule ``final_model``: ``final_model``, ``scoring`` and
``explain``. Rule ``predict``: ``predict``."""
