"""The SDK v1 client: published pipelines, pipeline endpoints and pipeline runs."""
