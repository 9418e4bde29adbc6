"""Hooks: the REST client of the Azure ML pipelines service (sync and async).

The public classes live in :mod:`airflow_provider_mlpipelines.hooks.azure_ml_pipelines`;
the underscored modules next to it are their shared parts.
"""
