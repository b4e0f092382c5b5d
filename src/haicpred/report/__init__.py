"""The HTML report: one module per group of sections plus the HTML helpers."""
