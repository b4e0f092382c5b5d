"""Shared input/output: errors, deterministic tables, schema validation, resources, the sample sheet."""
