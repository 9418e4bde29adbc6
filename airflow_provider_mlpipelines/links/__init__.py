"""Operator extra links to the Azure ML studio; import them from :mod:`.azure_ml_pipelines`."""
