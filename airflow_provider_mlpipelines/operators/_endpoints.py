"""Operators for pipeline endpoints and statuses: version, default version, enable, disable.

Re-exported by :mod:`airflow_provider_mlpipelines.operators.azure_ml_pipelines`, the import path
to use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines._compat import push_xcom
from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError, format_choices
from airflow_provider_mlpipelines.operators._asset_events import report_change
from airflow_provider_mlpipelines.operators._base import (
    AzureMLPipelinesBaseOperator,
    check_exactly_one,
    check_identifier,
    check_status,
    looks_templated,
)

if TYPE_CHECKING:
    from airflow_provider_mlpipelines._compat import Context

_PIPELINE_STATUSES = (EntityStatus.ACTIVE, EntityStatus.DISABLED, EntityStatus.DEPRECATED)
_ENDPOINT_STATUSES = (EntityStatus.ACTIVE, EntityStatus.DISABLED)


class AzureMLPipelineEndpointOperator(AzureMLPipelinesBaseOperator):
    """Put a published pipeline behind a pipeline endpoint, creating the endpoint if needed.

    Adds the pipeline as a new version of an existing endpoint (not twice: a pipeline that is
    already a version keeps it). Returns and pushes ``endpoint_id``, ``version``,
    ``endpoint_url``, ``default_version`` and ``previous_default_version``: the default this
    task replaced, for a rollback; ``None`` when it created the endpoint or left the default
    as it was (nothing to roll back to). Safe when other DAG runs change the endpoint at the
    same time: each gets a version of its own.

    :param pipeline_id: the published pipeline.
    :param pipeline_endpoint_name: the endpoint's name.
    :param description: description of a newly created endpoint.
    :param set_default: make the pipeline's version the endpoint's default (default True).
    :param deployment_name: on a v2 connection, the name of the batch deployment (the
        version); by default derived from the component's name and version
        (``score_pipe`` version ``3``: ``score-pipe-3``). v1 numbers versions itself.
    """

    template_fields: Sequence[str] = (
        "pipeline_id",
        "pipeline_endpoint_name",
        "description",
        "deployment_name",
    )

    def __init__(
        self,
        *,
        pipeline_id: str,
        pipeline_endpoint_name: str,
        description: str | None = None,
        set_default: bool = True,
        deployment_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline_id = pipeline_id
        self.pipeline_endpoint_name = pipeline_endpoint_name
        self.description = description
        self.set_default = set_default
        self.deployment_name = deployment_name

    def execute(self, context: Context) -> dict[str, Any]:
        pipeline_id = check_identifier(self.pipeline_id, "pipeline_id")
        name = check_identifier(self.pipeline_endpoint_name, "pipeline_endpoint_name")
        update = self.hook.ensure_pipeline_in_endpoint(
            name,
            pipeline_id,
            description=self.description,
            set_default=self.set_default,
            deployment_name=self.deployment_name or None,
        )
        endpoint = update.endpoint
        version = update.version or endpoint.version_of(pipeline_id)
        result = {
            "endpoint_id": endpoint.id,
            "version": version,
            "endpoint_url": endpoint.url,
            "default_version": endpoint.default_version,
            # Only a default this task replaced is a rollback target: None when the endpoint
            # was created here or its default stayed the same.
            "previous_default_version": update.replaced_default,
        }
        self.log.info(
            "Pipeline %s is version %s of endpoint %s (default %s, replaced default %s)",
            pipeline_id,
            version,
            name,
            endpoint.default_version,
            update.replaced_default,
        )
        for key, value in result.items():
            push_xcom(context["ti"], key, value)
        report_change(
            self, context, pipeline_id=pipeline_id, endpoint=endpoint.name, version=version
        )
        return result


class AzureMLSetPipelineEndpointDefaultVersionOperator(AzureMLPipelinesBaseOperator):
    """Set the default version of a pipeline endpoint; rolling back is the same call.

    Pushes ``previous_default_version``, the default it replaced (``None`` when ``version``
    already was the default: nothing to roll back to); returns the new default version.

    :param version: the version to make the default.
    :param pipeline_endpoint_id: the endpoint's id (or give its name).
    :param pipeline_endpoint_name: the endpoint's name (or give its id).
    """

    template_fields: Sequence[str] = ("version", "pipeline_endpoint_id", "pipeline_endpoint_name")

    def __init__(
        self,
        *,
        version: str | int,
        pipeline_endpoint_id: str | None = None,
        pipeline_endpoint_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_exactly_one(
            {
                "pipeline_endpoint_id": pipeline_endpoint_id,
                "pipeline_endpoint_name": pipeline_endpoint_name,
            },
            what="pipeline endpoint",
        )
        self.version = version
        self.pipeline_endpoint_id = pipeline_endpoint_id
        self.pipeline_endpoint_name = pipeline_endpoint_name

    def execute(self, context: Context) -> str:
        endpoint = self.get_endpoint(self.pipeline_endpoint_id, self.pipeline_endpoint_name)
        version = check_identifier(str(self.version), "version")
        if version not in endpoint.version_names:
            raise AzureMLInvalidInputError(
                f"pipeline endpoint {endpoint.name!r} has no version {version!r}; its versions "
                f"are {format_choices(endpoint.version_names)}"
            )
        update = self.hook.change_default_version(endpoint.id, version)
        if update.changed:
            self.log.info(
                "Endpoint %s: default version %s (was %s)",
                endpoint.name,
                version,
                update.replaced_default,
            )
        else:
            self.log.info(
                "Endpoint %s: version %s already is the default; nothing changed",
                endpoint.name,
                version,
            )
        # None when nothing changed: a rollback of this task must not target the version
        # that is the default now.
        push_xcom(context["ti"], "previous_default_version", update.replaced_default)
        pipeline_id = endpoint.pipeline_id_of(version)
        report_change(
            self, context, pipeline_id=pipeline_id, endpoint=endpoint.name, version=version
        )
        return version


class AzureMLSetPublishedPipelineStatusOperator(AzureMLPipelinesBaseOperator):
    """Enable, disable or deprecate a published pipeline.

    :param pipeline_id: the published pipeline.
    :param status: ``Active``, ``Disabled`` or ``Deprecated``.
    """

    template_fields: Sequence[str] = ("pipeline_id", "status")

    def __init__(self, *, pipeline_id: str, status: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not looks_templated(status):
            check_status(status, _PIPELINE_STATUSES, argument="status")
        self.pipeline_id = pipeline_id
        self.status = status

    def execute(self, context: Context) -> str:
        status = check_status(self.status, _PIPELINE_STATUSES, argument="status")
        pipeline_id = check_identifier(self.pipeline_id, "pipeline_id")
        self.hook.set_published_pipeline_status(pipeline_id, status)
        self.log.info("Published pipeline %s is now %s", pipeline_id, status.value)
        return status.value


class AzureMLSetPipelineEndpointStatusOperator(AzureMLPipelinesBaseOperator):
    """Enable or disable a pipeline endpoint.

    :param status: ``Active`` or ``Disabled``.
    :param pipeline_endpoint_id: the endpoint's id (or give its name).
    :param pipeline_endpoint_name: the endpoint's name (or give its id).
    """

    template_fields: Sequence[str] = ("status", "pipeline_endpoint_id", "pipeline_endpoint_name")

    def __init__(
        self,
        *,
        status: str,
        pipeline_endpoint_id: str | None = None,
        pipeline_endpoint_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not looks_templated(status):
            check_status(status, _ENDPOINT_STATUSES, argument="status")
        check_exactly_one(
            {
                "pipeline_endpoint_id": pipeline_endpoint_id,
                "pipeline_endpoint_name": pipeline_endpoint_name,
            },
            what="pipeline endpoint",
        )
        self.status = status
        self.pipeline_endpoint_id = pipeline_endpoint_id
        self.pipeline_endpoint_name = pipeline_endpoint_name

    def execute(self, context: Context) -> str:
        status = check_status(self.status, _ENDPOINT_STATUSES, argument="status")
        endpoint = self.get_endpoint(self.pipeline_endpoint_id, self.pipeline_endpoint_name)
        self.hook.set_pipeline_endpoint_status(endpoint.id, status)
        self.log.info("Pipeline endpoint %s is now %s", endpoint.name, status.value)
        return status.value
