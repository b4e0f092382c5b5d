"""The HTML report (rule ``report``): one module per group of sections plus the HTML helpers.

render (entry point: render_report, page assembly), layout (section anchors and order, optional
files, model order), html (escaping, number formats, tables), figures (PNG figures, panels,
colours), cohort (outcome, data checks, cohort), performance (metrics, ROC, calibration, decision
curve, ablation), baselines (the baselines' text), validation (leave-one-batch-out, tuning),
importance (feature importance, SHAP, radiomics, planted effects), methods (methods, limitations,
software, TRIPOD+AI)."""
