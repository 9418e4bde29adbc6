"""The Azure ML v2 wire contract in Python: batch endpoints, pipeline component deployments, jobs.

Source of every path, api-version and field name:
``shared/aml-v2-batch-endpoints-rest-contract.md``. Like :mod:`airflow_provider_mlpipelines.api`
for v1, this package is the one owner of those facts for both the client and the emulator;
nothing here performs I/O.
"""
