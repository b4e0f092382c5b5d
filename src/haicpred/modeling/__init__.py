"""Models: cross-validation, tuning, evaluation, the final model, predict, explain."""
