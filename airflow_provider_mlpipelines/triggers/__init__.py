"""Triggers that wait for Azure ML pipeline runs in the triggerer, in :mod:`.azure_ml_pipelines`."""
