"""The v2 client: pipeline components, batch endpoints, deployments and pipeline jobs."""
