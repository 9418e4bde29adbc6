"""Static proof that both API clients implement the protocols in full (checked by mypy in CI).

Each function below is only ever read by mypy: returning a client where a protocol is expected
fails the type check if a method is missing or its signature differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.clients.protocol import (
        AsyncPipelinesClient,
        PipelinesClient,
    )
    from airflow_provider_mlpipelines.clients.v1.async_client import AsyncV1Client
    from airflow_provider_mlpipelines.clients.v1.client import V1Client
    from airflow_provider_mlpipelines.clients.v2.async_client import AsyncV2Client
    from airflow_provider_mlpipelines.clients.v2.client import V2Client


def v1_is_a_pipelines_client(client: V1Client) -> PipelinesClient:
    return client


def v2_is_a_pipelines_client(client: V2Client) -> PipelinesClient:
    return client


def async_v1_is_an_async_pipelines_client(client: AsyncV1Client) -> AsyncPipelinesClient:
    return client


def async_v2_is_an_async_pipelines_client(client: AsyncV2Client) -> AsyncPipelinesClient:
    return client
