"""What every Azure ML pipelines operator shares: the connection, the hook, input checks."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines._compat import BaseOperator
from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError, format_choices
from airflow_provider_mlpipelines.get_provider_info import DEFAULT_CONN_ID
from airflow_provider_mlpipelines.operators._lineage import LineageMixin

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.api.models import PipelineEndpoint
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

# Ids become URL path segments: anything that could change the path is refused up front.
_UNSAFE_ID = re.compile(r"[/\\?#%]|^\.\.?$|\.\./|[\x00-\x1f]")


def looks_templated(value: Any) -> bool:
    """Whether ``value`` still holds Jinja syntax (so it cannot be checked before rendering)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def check_identifier(value: Any, argument: str) -> str:
    """Return ``value`` as an id, or raise naming ``argument`` and what an id may contain."""
    if not isinstance(value, str) or not value.strip():
        raise AzureMLInvalidInputError(f"{argument} must be a non-empty string, got {value!r}")
    if _UNSAFE_ID.search(_without_resource_path(value.strip())):
        raise AzureMLInvalidInputError(
            f"{argument} {value!r} contains a character that is not allowed in an id "
            "('/', '\\', '?', '#', '%', '..' or a control character)"
        )
    return value.strip()


def _without_resource_path(value: str) -> str:
    """An Azure resource id (a v2 component's or endpoint's, ``/subscriptions/...``) with its
    separators taken out: v2 ids are paths, whose segments are checked like any id."""
    if _RESOURCE_ID.match(value):
        return value.replace("/", "")
    return value


_RESOURCE_ID = re.compile(r"^/subscriptions/[^/]+(/[^/]+)+$", re.IGNORECASE)


def check_exactly_one(arguments: dict[str, Any], *, what: str) -> str:
    """Return the one argument name of ``arguments`` that is set, or raise listing them all."""
    given = [name for name, value in arguments.items() if value not in (None, "")]
    if len(given) != 1:
        state = "none was" if not given else f"{format_choices(given)} were"
        raise AzureMLInvalidInputError(
            f"Give exactly one {what} ({format_choices(list(arguments))}); {state} given"
        )
    return given[0]


def check_status(value: Any, allowed: Sequence[EntityStatus], *, argument: str) -> EntityStatus:
    """Parse ``value`` as one of ``allowed`` statuses, or raise naming the valid ones."""
    choices = [s.value for s in allowed]
    try:
        status = EntityStatus.parse(value)
    except ValueError:
        status = None
    if status not in allowed:
        raise AzureMLInvalidInputError(
            f"{argument} {value!r} is not valid here; choose one of {format_choices(choices)}"
        )
    return status


class AzureMLPipelinesBaseOperator(LineageMixin, BaseOperator):
    """Base of the operators: holds the connection id and creates the hook on first use.

    :param azure_ml_pipelines_conn_id: the Airflow connection of type ``azure_ml_pipelines``.
    """

    ui_color = "#e3f1fb"

    def __init__(self, *, azure_ml_pipelines_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.azure_ml_pipelines_conn_id = azure_ml_pipelines_conn_id
        # What OpenLineage and asset events report, set while the task runs (operators/_lineage.py).
        self.lineage_record: dict[str, Any] | None = None

    @cached_property
    def hook(self) -> AzureMLPipelinesHook:
        from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

        return AzureMLPipelinesHook(
            azure_ml_pipelines_conn_id=self.azure_ml_pipelines_conn_id,
            deadline=self._hook_deadline(),
        )

    def _hook_deadline(self) -> float | None:
        """When the task's ``execution_timeout`` runs out, counted from the hook's first use.

        The hook is created inside ``execute``, so this is the task's own deadline give or take
        its start-up; a ``Retry-After`` that would end later fails at once, saying so, instead
        of being waited out until Airflow kills the task.
        """
        if self.execution_timeout is None:
            return None
        return time.time() + self.execution_timeout.total_seconds()

    def get_endpoint(self, endpoint_id: str | None, endpoint_name: str | None) -> PipelineEndpoint:
        """The endpoint named by exactly one of its id or its name."""
        check_exactly_one(
            {"pipeline_endpoint_id": endpoint_id, "pipeline_endpoint_name": endpoint_name},
            what="pipeline endpoint",
        )
        if endpoint_id:
            return self.hook.get_pipeline_endpoint(
                check_identifier(endpoint_id, "pipeline_endpoint_id")
            )
        return self.hook.get_pipeline_endpoint(
            name=check_identifier(endpoint_name, "pipeline_endpoint_name")
        )
