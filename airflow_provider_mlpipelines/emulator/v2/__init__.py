"""The emulator's Azure ML v2 side: batch endpoints, pipeline component deployments, jobs.

It serves the ARM and scoring routes of ``shared/aml-v2-batch-endpoints-rest-contract.md`` in
the same process as the v1 service, over the same runner (steps really run), state file and
token endpoint. A v2 component version is a snapshot of a pipeline graph; a v2 job is a run of
that graph whose run id is the job's name.
"""
