"""Input and output shared by every stage: ``errors`` (Problem, InputError), ``tables``
(deterministic TSV/JSON writing; the shard merge of rules ``merge_batch_features`` and
``merge_variant_audit``), ``validation`` and ``schemas/`` (JSON schemas of the config and every
input table), ``samples`` and ``sample_ids`` (the sample sheet; how other tables' IDs line up
with it), ``resources`` and ``panel_bed`` (gene panel as TSV or BED, SNP list) and ``versions``."""
