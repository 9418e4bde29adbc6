"""Route templates of the Azure ML pipelines and run-history REST APIs.

Each :class:`Route` holds a method and a path template relative to its service prefix. The
placeholders use ``{name}`` syntax, which both :meth:`str.format` (the hooks) and aiohttp's
router (the emulator) understand, so one template serves the client and the server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal
from urllib.parse import quote, unquote

WORKSPACE_SCOPE = (
    "/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
    "/providers/Microsoft.MachineLearningServices/workspaces/{workspace_name}"
)
PIPELINES_PREFIX = "/pipelines/v1.0" + WORKSPACE_SCOPE
HISTORY_PREFIX = "/history/v1.0" + WORKSPACE_SCOPE
#: The data store service of azureml-core (``azureml/_restclient/operations/
#: data_stores_operations.py``), on the same host as run history.
DATASTORE_PREFIX = "/datastore/v1.0" + WORKSPACE_SCOPE

Service = Literal["api", "history", "datastore"]
_PREFIXES = {"api": PIPELINES_PREFIX, "history": HISTORY_PREFIX, "datastore": DATASTORE_PREFIX}

#: The workspace identity placeholders shared by every route.
WORKSPACE_KEYS = ("subscription_id", "resource_group", "workspace_name")


@dataclass(frozen=True)
class Route:
    """One REST operation: ``method`` and ``path`` under the prefix of ``service``."""

    name: str
    method: str
    path: str
    service: Service = "api"

    @property
    def template(self) -> str:
        """The full path template, prefix included."""
        return _PREFIXES[self.service] + self.path

    def format(self, **values: str) -> str:
        """Fill the template; every value is percent-encoded as one path segment."""
        return fill_template(self.template, values)

    def match(self, path: str) -> dict[str, str] | None:
        """The decoded placeholder values if ``path`` is exactly this route, else ``None``.

        The inverse of :meth:`format`: it lets a client recognise a URL the service handed out.
        """
        return match_template(self.template, path)


def fill_template(template: str, values: dict[str, str]) -> str:
    """Fill a path template; every value is percent-encoded as one path segment."""
    return template.format(**{key: quote(str(val), safe="") for key, val in values.items()})


def match_template(template: str, path: str, *, ignore_case: bool = False) -> dict[str, str] | None:
    """The decoded placeholder values if ``path`` is exactly ``template``, else ``None``.

    :param ignore_case: compare the fixed segments case-insensitively (as ARM does).
    """
    found = _template_pattern(template, ignore_case).fullmatch(path)
    if found is None:
        return None
    return {key: unquote(val) for key, val in found.groupdict().items()}


@cache
def _template_pattern(template: str, ignore_case: bool = False) -> re.Pattern[str]:
    """A regular expression matching ``template`` with one path segment per placeholder."""
    pieces = re.split(r"\{(\w+)\}", template)
    pattern = "".join(
        f"(?P<{piece}>[^/]+)" if index % 2 else re.escape(piece)
        for index, piece in enumerate(pieces)
    )
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)


# Published pipelines
PIPELINE_CREATE = Route("publish pipeline", "POST", "/Pipelines/Create")
PIPELINE_LIST = Route("list pipelines", "GET", "/Pipelines")
PIPELINE_GET = Route("get pipeline", "GET", "/Pipelines/{pipeline_id}")
PIPELINE_SET_STATUS = Route("set pipeline status", "PUT", "/Pipelines/{pipeline_id}/status")
PIPELINE_SUBMIT = Route("submit to pipeline", "POST", "/PipelineRuns/PipelineSubmit/{pipeline_id}")
PIPELINE_RUNS = Route("list runs of pipeline", "GET", "/PipelineRuns/Pipeline/{pipeline_id}")
GRAPH_GET = Route("get graph", "GET", "/Graphs/{graph_id}")
GRAPH_INTERFACE = Route("get graph interface", "GET", "/Graphs/{graph_id}/Interface")

# Pipeline endpoints
ENDPOINT_CREATE = Route("create endpoint", "POST", "/PipelineEndpoints/Create")
ENDPOINT_LIST = Route("list endpoints", "GET", "/PipelineEndpoints")
ENDPOINT_GET_BY_ID = Route("get endpoint", "GET", "/PipelineEndpoints/Id/{endpoint_id}")
ENDPOINT_GET_BY_NAME = Route("get endpoint by name", "GET", "/PipelineEndpoints/Name")
ENDPOINT_UPDATE = Route("update endpoint", "PUT", "/PipelineEndpoints/{endpoint_id}")
ENDPOINT_PIPELINES = Route(
    "list pipelines of endpoint", "GET", "/PipelineEndpoints/{endpoint_id}/pipelines"
)
ENDPOINT_SUBMIT = Route(
    "submit to endpoint",
    "POST",
    "/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint_id}",
)
ENDPOINT_SUBMIT_VERSION = Route(
    "submit to endpoint version",
    "POST",
    "/PipelineRuns/PipelineEndpointSubmit/Id/{endpoint_id}/{pipeline_version}",
)

# Pipeline runs
RUN_GET = Route("get run", "GET", "/PipelineRuns/{run_id}")
RUN_CANCEL = Route("cancel run", "DELETE", "/PipelineRuns/{run_id}/Execution")
RUN_STEP_STATUSES = Route(
    "get step statuses", "POST", "/PipelineRuns/{run_id}/Graph/AllNodes/Status"
)
RUN_STEP_LOG = Route("get step log", "POST", "/PipelineRuns/{run_id}/Graph/Shareable/{log_kind}")
RUN_STEP_OUTPUTS = Route("get step outputs", "POST", "/PipelineRuns/{run_id}/Outputs")

#: Log kinds accepted by :data:`RUN_STEP_LOG`.
STEP_LOG_KINDS = ("STDOUT", "STDERR", "JobLog")

# Run history (camelCase bodies)
HISTORY_RUN = Route("get run history", "GET", "/runs/{run_id}", "history")
HISTORY_EXPERIMENT_RUN = Route(
    "get run history", "GET", "/experiments/{experiment_name}/runs/{run_id}", "history"
)
HISTORY_RUN_DETAILS = Route(
    "get run details",
    "GET",
    "/experiments/{experiment_name}/runs/{run_id}/details",
    "history",
)
HISTORY_RUN_CHILDREN = Route(
    "list child runs",
    "GET",
    "/experiments/{experiment_name}/runs/{run_id}/children",
    "history",
)

#: Run history's batch read (``QueryParamsDto`` in, ``PaginatedRunDto`` out), as azureml-core's
#: ``ExperimentClient.get_runs_by_run_ids`` sends it: v1 pipeline runs and v2 jobs alike.
HISTORY_RUNS_QUERY = Route(
    "query runs", "POST", "/experiments/{experiment_name}/runs:query", "history"
)

# Data stores (camelCase ``DataStore`` bodies: ``dataStoreType``, ``azureStorageSection``)
DATASTORE_GET = Route("get datastore", "GET", "/datastores/{datastore_name}", "datastore")

#: Query and header names with a fixed spelling.
QUERY_ACTIVE_ONLY = "activeOnly"
QUERY_ENDPOINT_NAME = "Name"
QUERY_PIPELINE_VERSION = "pipelineVersion"
QUERY_PARENT_RUN_ID = "parentRunId"
QUERY_TOP = "$top"
QUERY_CONTINUATION = "$continuationToken"
HEADER_BATCH_SIZE = "BatchSize"

#: Scope of the Azure Resource Manager audience that the service accepts.
ARM_SCOPE = "https://management.azure.com/.default"


def studio_workspace_id(subscription_id: str, resource_group: str, workspace_name: str) -> str:
    """The ``wsid`` query value the studio uses to locate a workspace."""
    return (
        f"/subscriptions/{subscription_id}/resourcegroups/{resource_group}"
        f"/workspaces/{workspace_name}"
    )


def studio_url(
    studio_base: str,
    kind: Literal["runs", "pipelines", "experiments", "endpoints"],
    object_id: str,
    *,
    subscription_id: str,
    resource_group: str,
    workspace_name: str,
    tenant_id: str | None = None,
) -> str:
    """Build the studio (portal) URL of a run, published pipeline, experiment or endpoint."""
    wsid = studio_workspace_id(subscription_id, resource_group, workspace_name)
    url = f"{studio_base.rstrip('/')}/{kind}/{quote(object_id, safe='')}?wsid={wsid}"
    if tenant_id:
        url += f"&tid={quote(tenant_id, safe='')}"
    return url
