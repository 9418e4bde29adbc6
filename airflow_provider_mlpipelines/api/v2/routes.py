"""ARM and scoring routes of Azure ML v2, each with the api-version ``MLClient`` sends.

Every ARM route is a path template under the workspace (``WS``) plus the api-version that
azure-ai-ml 1.35.2 pins for that operation (contract section 1.3), so a request built here is the
request Microsoft's own client sends. Placeholders use ``{name}`` syntax, which both
:meth:`str.format` (the client) and aiohttp's router (the emulator) understand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from airflow_provider_mlpipelines.api.routes import fill_template, match_template

#: The ARM workspace scope; every ARM route below starts with it (contract section 1.2).
WORKSPACE = (
    "/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
    "/providers/Microsoft.MachineLearningServices/workspaces/{workspace_name}"
)

#: api-versions as azure-ai-ml 1.35.2 sends them, per operation (contract section 1.3).
API_WORKSPACE = "2024-10-01-preview"
API_BATCH_ENDPOINT = "2023-10-01"
API_BATCH_DEPLOYMENT_READ = "2024-01-01-preview"
API_PIPELINE_DEPLOYMENT_WRITE = "2023-02-01-preview"
API_COMPONENT = "2024-01-01-preview"
API_COMPONENT_FROM_JOB = "2023-02-01-preview"
API_JOB = "2024-01-01-preview"
API_JOB_CANCEL = "2023-04-01-preview"
API_DATAPLANE_JOBS = "2020-09-01-dataplanepreview"
API_GENERATED_DEFAULT = "2025-12-01"
#: azure-ai-ml 1.35.2 reads datastores with its ``ServiceClient102024PreviewTsp``.
API_DATASTORE = "2024-10-01-preview"

#: Every api-version a v2 server must accept (contract section 1.3, "Emulator").
SUPPORTED_API_VERSIONS = frozenset(
    {
        API_WORKSPACE,
        API_BATCH_ENDPOINT,
        API_BATCH_DEPLOYMENT_READ,
        API_PIPELINE_DEPLOYMENT_WRITE,
        API_COMPONENT,
        API_JOB,
        API_JOB_CANCEL,
        API_DATAPLANE_JOBS,
        API_GENERATED_DEFAULT,
        API_DATASTORE,
    }
)

Audience = Literal["arm", "ml"]

QUERY_API_VERSION = "api-version"
QUERY_SKIP = "$skip"
QUERY_LIST_VIEW_TYPE = "listViewType"
QUERY_TAG = "tag"
HEADER_DEPLOYMENT = "azureml-model-deployment"
HEADER_REPEATABILITY = "repeatability_request-id"
HEADER_ML_TOKEN = "x-azureml-token"
HEADER_ASYNC_OPERATION = "Azure-AsyncOperation"
HEADER_LOCATION = "Location"
HEADER_RETRY_AFTER = "Retry-After"


@dataclass(frozen=True)
class ArmRoute:
    """One ARM operation: ``method`` on ``path`` under the workspace, at ``api_version``.

    :param name: how messages name the operation, e.g. ``"get batch endpoint"``.
    :param method: the HTTP method.
    :param path: the path template under :data:`WORKSPACE` (empty for the workspace itself).
    :param api_version: the ``api-version`` query value sent with it.
    :param lro: whether the service answers with a long-running operation (contract section 2).
    """

    name: str
    method: str
    path: str
    api_version: str
    lro: bool = False

    @property
    def template(self) -> str:
        """The full path template, workspace scope included."""
        return WORKSPACE + self.path

    def format(self, **values: str) -> str:
        """Fill the template; every value is percent-encoded as one path segment."""
        return fill_template(self.template, values)

    def match(self, path: str) -> dict[str, str] | None:
        """The decoded placeholder values if ``path`` is exactly this route, else ``None``.

        ARM compares the fixed segments case-insensitively (contract section 1.2).
        """
        return match_template(self.template, path, ignore_case=True)


# Workspace (its location is copied into every endpoint/deployment PUT)
WORKSPACE_GET = ArmRoute("get workspace", "GET", "", API_WORKSPACE)

# Batch endpoints (contract section 4)
ENDPOINT_LIST = ArmRoute("list batch endpoints", "GET", "/batchEndpoints", API_BATCH_ENDPOINT)
ENDPOINT_GET = ArmRoute(
    "get batch endpoint", "GET", "/batchEndpoints/{endpoint_name}", API_BATCH_ENDPOINT
)
ENDPOINT_PUT = ArmRoute(
    "create or update batch endpoint",
    "PUT",
    "/batchEndpoints/{endpoint_name}",
    API_BATCH_ENDPOINT,
    lro=True,
)
ENDPOINT_DELETE = ArmRoute(
    "delete batch endpoint", "DELETE", "/batchEndpoints/{endpoint_name}", API_BATCH_ENDPOINT, True
)

# Batch deployments (contract section 6)
DEPLOYMENT_LIST = ArmRoute(
    "list batch deployments",
    "GET",
    "/batchEndpoints/{endpoint_name}/deployments",
    API_BATCH_DEPLOYMENT_READ,
)
DEPLOYMENT_GET = ArmRoute(
    "get batch deployment",
    "GET",
    "/batchEndpoints/{endpoint_name}/deployments/{deployment_name}",
    API_BATCH_DEPLOYMENT_READ,
)
DEPLOYMENT_PUT = ArmRoute(
    "create pipeline component deployment",
    "PUT",
    "/batchEndpoints/{endpoint_name}/deployments/{deployment_name}",
    API_PIPELINE_DEPLOYMENT_WRITE,
    lro=True,
)
DEPLOYMENT_DELETE = ArmRoute(
    "delete batch deployment",
    "DELETE",
    "/batchEndpoints/{endpoint_name}/deployments/{deployment_name}",
    API_BATCH_DEPLOYMENT_READ,
    lro=True,
)

# Components (contract section 5)
COMPONENT_GET = ArmRoute("get component", "GET", "/components/{component_name}", API_COMPONENT)
COMPONENT_VERSIONS = ArmRoute(
    "list component versions", "GET", "/components/{component_name}/versions", API_COMPONENT
)
COMPONENT_VERSION_GET = ArmRoute(
    "get component version",
    "GET",
    "/components/{component_name}/versions/{version}",
    API_COMPONENT,
)
COMPONENT_VERSION_PUT = ArmRoute(
    "register component version",
    "PUT",
    "/components/{component_name}/versions/{version}",
    API_COMPONENT,
)
#: The same PUT when the component is made from an existing pipeline job (contract section 5.1).
COMPONENT_FROM_JOB_PUT = ArmRoute(
    "register component from job",
    "PUT",
    "/components/{component_name}/versions/{version}",
    API_COMPONENT_FROM_JOB,
)

# Jobs (contract section 8)
JOB_LIST = ArmRoute("list jobs", "GET", "/jobs", API_JOB)
JOB_GET = ArmRoute("get job", "GET", "/jobs/{job_name}", API_JOB)

# Datastores (the storage behind ``azureml://datastores/{name}`` paths)
DATASTORE_GET = ArmRoute("get datastore", "GET", "/datastores/{datastore_name}", API_DATASTORE)
JOB_PUT = ArmRoute("submit pipeline job", "PUT", "/jobs/{job_name}", API_JOB)
JOB_CANCEL = ArmRoute("cancel job", "POST", "/jobs/{job_name}/cancel", API_JOB_CANCEL, lro=True)

#: Every ARM route, for the emulator's route table and for tests of the table itself.
ARM_ROUTES: tuple[ArmRoute, ...] = (
    WORKSPACE_GET,
    ENDPOINT_LIST,
    ENDPOINT_GET,
    ENDPOINT_PUT,
    ENDPOINT_DELETE,
    DEPLOYMENT_LIST,
    DEPLOYMENT_GET,
    DEPLOYMENT_PUT,
    DEPLOYMENT_DELETE,
    COMPONENT_GET,
    COMPONENT_VERSIONS,
    COMPONENT_VERSION_GET,
    COMPONENT_VERSION_PUT,
    JOB_LIST,
    JOB_GET,
    JOB_PUT,
    JOB_CANCEL,
)

#: The component ARM id is the component version's path (contract section 5).
COMPONENT_ID = re.compile(
    r"^/subscriptions/(?P<subscription_id>[^/]+)/resourceGroups/(?P<resource_group>[^/]+)"
    r"/providers/Microsoft\.MachineLearningServices/workspaces/(?P<workspace_name>[^/]+)"
    r"/components/(?P<component_name>[^/]+)/versions/(?P<version>[^/]+)$",
    re.IGNORECASE,
)

#: A job's steps as run-history child runs, on the workspace's ``api`` host (contract section 8).
HISTORY_CHILDREN = "/history/v1.0" + WORKSPACE + "/runs/{run_id}/children"
API_HISTORY = "v1.0"

#: The emulator's scoring path; the real one is on ``{endpoint}.{region}.inference.ml.azure.com``.
#: Clients never build it: they read ``properties.scoringUri`` (contract section 1.1).
EMULATOR_SCORING_PATH = "/inference/{endpoint_name}/jobs"


def component_id(
    subscription_id: str, resource_group: str, workspace_name: str, name: str, version: str
) -> str:
    """The ARM id of a component version, as deployments reference it."""
    return COMPONENT_VERSION_GET.format(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        component_name=name,
        version=version,
    )


def job_id(subscription_id: str, resource_group: str, workspace_name: str, name: str) -> str:
    """The ARM id of a job, as ``MLClient`` names a component's source job (``sourceJobId``,
    tests/fixtures/recordings/component_from_job.json)."""
    return JOB_GET.format(
        subscription_id=subscription_id,
        resource_group=resource_group,
        workspace_name=workspace_name,
        job_name=name,
    )


def job_name_of(value: str) -> str:
    """A job's name from its name or its ARM id (``.../jobs/{name}``)."""
    head, marker, tail = value.strip().rpartition("/jobs/")
    return unquote(tail.split("/")[0]) if marker and head else value.strip()


def parse_component_id(value: str) -> dict[str, str] | None:
    """The parts of a component ARM id (``component_name``, ``version``...), else ``None``."""
    found = COMPONENT_ID.match(value.strip())
    return None if found is None else {k: unquote(v) for k, v in found.groupdict().items()}
