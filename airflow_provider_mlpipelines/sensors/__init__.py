"""Sensors for Azure ML pipelines; import them from :mod:`.azure_ml_pipelines`."""
