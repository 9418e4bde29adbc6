"""Provider metadata read by Airflow's ``ProvidersManager`` (the ``provider.yaml`` equivalent).

Airflow 3 builds the connection form from ``conn-fields`` and ``ui-field-behaviour`` here and
ignores the hook's form methods; Airflow 2.11 uses the hook's methods. Both describe the same
fields, declared once in :data:`CONNECTION_EXTRA_FIELDS`.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_mlpipelines import __version__

PACKAGE = "airflow_provider_mlpipelines"
INTEGRATION = "Azure Machine Learning Pipelines"
CONNECTION_TYPE = "azure_ml_pipelines"
DEFAULT_CONN_ID = "azure_ml_pipelines_default"

#: Extra fields of the connection: key -> (label, JSON-schema type, description).
CONNECTION_EXTRA_FIELDS: dict[str, tuple[str, str, str]] = {
    "api": (
        "Service API",
        "string",
        "v1 (the default): SDK v1 published pipelines and pipeline endpoints; v2: batch "
        "endpoints with pipeline component deployments, on the Azure Resource Manager host "
        "(Host defaults to the cloud's, e.g. https://management.azure.com).",
    ),
    "subscription_id": ("Subscription ID", "string", "Azure subscription of the workspace."),
    "resource_group": ("Resource group", "string", "Resource group of the workspace."),
    "workspace_name": ("Workspace name", "string", "Azure ML workspace name."),
    "cloud": (
        "Azure cloud",
        "string",
        "AzureCloud (the default), AzureChinaCloud or AzureUSGovernment: sets the authority, "
        "the token scope, the regional service host and the studio URL together; each can "
        "still be set on its own.",
    ),
    "region": (
        "Region",
        "string",
        "Workspace region, e.g. westeurope or West Europe; when Host is empty the service URL "
        "is the cloud's regional host, e.g. https://{region}.api.azureml.ms.",
    ),
    "tenant_id": ("Tenant ID", "string", "Entra ID tenant of the service principal."),
    "authority_host": (
        "Authority host",
        "string",
        "Entra ID authority; default: the cloud's (https://login.microsoftonline.com, "
        "https://login.chinacloudapi.cn, https://login.microsoftonline.us).",
    ),
    "token_scope": (
        "Token scope",
        "string",
        "OAuth scope of the service's tokens; default: the cloud's resource manager scope, "
        "e.g. https://management.azure.com/.default.",
    ),
    "ca_bundle": (
        "CA bundle path",
        "string",
        "PEM file to verify the service's and authority's TLS certificates (e.g. the emulator's).",
    ),
    "managed_identity_client_id": (
        "Managed identity client ID",
        "string",
        "Client ID of a user-assigned managed identity (leave Client ID/secret empty).",
    ),
    "workload_identity": (
        "Use workload identity",
        "boolean",
        "Authenticate with Kubernetes workload identity federation: the pod's "
        "AZURE_FEDERATED_TOKEN_FILE, with AZURE_CLIENT_ID and AZURE_TENANT_ID (or Client ID "
        "and Tenant ID here).",
    ),
    "studio_url": (
        "Studio URL",
        "string",
        "Base URL of the Azure ML studio for links; default: the cloud's "
        "(https://ml.azure.com, https://studio.ml.azure.cn, https://ml.azure.us).",
    ),
    "max_retries": (
        "Max retries",
        "integer",
        "Retries of a request on 429, 5xx and connection errors (default 5).",
    ),
    "retry_backoff_seconds": (
        "Retry backoff (s)",
        "number",
        "First backoff between retries, doubled each time, with jitter (default 1).",
    ),
    "request_timeout_seconds": (
        "Request timeout (s)",
        "number",
        "Timeout of one HTTP request (default 60).",
    ),
    "ratelimit_floor": (
        "ARM budget floor",
        "integer",
        "Requests left in the subscription's Azure Resource Manager budget (as ARM reports "
        "it) at which requests of that kind are paced (default 50; 0: pace only when empty).",
    ),
    "ratelimit_pace": (
        "ARM paced rate (/s)",
        "number",
        "Requests per second, process-wide, once the ARM budget is at the floor (default 2).",
    ),
}

CONNECTION_UI_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port"],
    "relabeling": {
        "login": "Client ID",
        "password": "Client secret",
        "host": "Service base URL",
    },
    "placeholders": {
        "login": "service principal application (client) ID",
        "password": "service principal client secret",
        "host": "https://westeurope.api.azureml.ms (default: from the region; v2: the ARM host)",
        "subscription_id": "00000000-0000-0000-0000-000000000000",
        "resource_group": "my-resource-group",
        "workspace_name": "my-workspace",
        "api": "v1",
        "cloud": "AzureCloud",
        "region": "westeurope",
        "tenant_id": "00000000-0000-0000-0000-000000000000",
        "authority_host": "https://login.microsoftonline.com",
        "token_scope": "https://management.azure.com/.default",
        "studio_url": "https://ml.azure.com",
    },
}


def _conn_fields() -> dict[str, Any]:
    return {
        key: {"label": label, "schema": {"type": [json_type, "null"]}, "description": description}
        for key, (label, json_type, description) in CONNECTION_EXTRA_FIELDS.items()
    }


def _modules(kind: str) -> list[dict[str, Any]]:
    return [
        {
            "integration-name": INTEGRATION,
            "python-modules": [f"{PACKAGE}.{kind}.azure_ml_pipelines"],
        }
    ]


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-mlpipelines",
        "name": "Azure ML Pipelines",
        "description": "Publish, version, run and wait for Azure Machine Learning pipelines.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://learn.microsoft.com/azure/machine-learning/",
                "tags": ["azure"],
            }
        ],
        "hooks": _modules("hooks"),
        "operators": _modules("operators"),
        "sensors": _modules("sensors"),
        "triggers": _modules("triggers"),
        "connection-types": [
            {
                "hook-class-name": f"{PACKAGE}.hooks.azure_ml_pipelines.AzureMLPipelinesHook",
                "hook-name": "Azure ML Pipelines",
                "connection-type": CONNECTION_TYPE,
                "conn-fields": _conn_fields(),
                "ui-field-behaviour": {
                    "hidden-fields": CONNECTION_UI_BEHAVIOUR["hidden_fields"],
                    "relabeling": CONNECTION_UI_BEHAVIOUR["relabeling"],
                    "placeholders": CONNECTION_UI_BEHAVIOUR["placeholders"],
                },
            }
        ],
        "extra-links": [f"{PACKAGE}.links.azure_ml_pipelines.AzureMLPipelineRunLink"],
    }
