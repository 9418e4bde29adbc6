"""The Azure clouds a workspace can live in: authority, token audience, service hosts, studio.

One table for the hooks (which scope to request, which hosts to call) and the emulator (which
audiences its token endpoint accepts), so the two cannot drift apart.

Sources of the values:

- authority hosts, resource manager audiences and the ``AzureCloud`` / ``AzureChinaCloud`` /
  ``AzureUSGovernment`` names: azure-ai-ml's cloud table
  (``azure/ai/ml/_azure_environments.py``, keys ``active_directory`` and
  ``resource_manager``), which also builds its credential scope as the resource manager URL
  plus ``/.default``;
- the classic management audiences (``management.core.*``, what the v1 SDK requests): the
  Azure CLI's cloud table (``activeDirectoryResourceId``);
- API hosts (``*.api.azureml.ms``, ``*.api.ml.azure.cn``, ``*.api.ml.azure.us``) and studio
  hosts (``ml.azure.com``, ``studio.ml.azure.cn``, ``ml.azure.us``): Microsoft Learn, "Configure
  inbound and outbound network traffic" for Azure Machine Learning, the per-cloud host tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The suffix that turns a resource (audience) into a client-credentials scope.
DEFAULT_SCOPE_SUFFIX = "/.default"


@dataclass(frozen=True)
class AzureCloud:
    """One Azure cloud's public endpoints.

    :param name: the cloud's name as Azure CLI and azure-ai-ml spell it.
    :param authority_host: the Entra ID authority.
    :param resource_manager: the Azure Resource Manager audience the service's tokens are for.
    :param management_audience: the classic management audience (also accepted).
    :param ml_audience: the Azure ML audience (also accepted).
    :param api_host_suffix: the regional API host is ``{region}.{api_host_suffix}``.
    :param studio_url: the studio (portal) for links.
    """

    name: str
    authority_host: str
    resource_manager: str
    management_audience: str
    ml_audience: str
    api_host_suffix: str
    studio_url: str

    @property
    def token_scope(self) -> str:
        """The scope of the service's tokens: the resource manager audience + ``/.default``."""
        return self.resource_manager + DEFAULT_SCOPE_SUFFIX

    @property
    def ml_scope(self) -> str:
        """The scope of Azure ML data-plane tokens (a v2 invoke, the pipeline-job header)."""
        return self.ml_audience + DEFAULT_SCOPE_SUFFIX

    @property
    def audiences(self) -> frozenset[str]:
        """Every audience (without a trailing slash) the cloud's service accepts."""
        return frozenset({self.resource_manager, self.management_audience, self.ml_audience})

    def service_url(self, region: str) -> str:
        """The regional API base URL, e.g. ``https://westeurope.api.azureml.ms``.

        :param region: a normalised region name (see :func:`normalize_region`).
        """
        return f"https://{region}.{self.api_host_suffix}"


AZURE_PUBLIC_CLOUD = AzureCloud(
    name="AzureCloud",
    authority_host="https://login.microsoftonline.com",
    resource_manager="https://management.azure.com",
    management_audience="https://management.core.windows.net",
    ml_audience="https://ml.azure.com",
    api_host_suffix="api.azureml.ms",
    studio_url="https://ml.azure.com",
)
AZURE_CHINA_CLOUD = AzureCloud(
    name="AzureChinaCloud",
    authority_host="https://login.chinacloudapi.cn",
    resource_manager="https://management.chinacloudapi.cn",
    management_audience="https://management.core.chinacloudapi.cn",
    ml_audience="https://ml.azure.cn",
    api_host_suffix="api.ml.azure.cn",
    studio_url="https://studio.ml.azure.cn",
)
AZURE_US_GOVERNMENT = AzureCloud(
    name="AzureUSGovernment",
    authority_host="https://login.microsoftonline.us",
    resource_manager="https://management.usgovcloudapi.net",
    management_audience="https://management.core.usgovcloudapi.net",
    ml_audience="https://ml.azure.us",
    api_host_suffix="api.ml.azure.us",
    studio_url="https://ml.azure.us",
)

#: The clouds by name.
CLOUDS: dict[str, AzureCloud] = {
    cloud.name: cloud for cloud in (AZURE_PUBLIC_CLOUD, AZURE_CHINA_CLOUD, AZURE_US_GOVERNMENT)
}
DEFAULT_CLOUD = AZURE_PUBLIC_CLOUD.name

_REGION_RE = re.compile(r"^[a-z][a-z0-9]*$")


def find_cloud(name: str) -> AzureCloud | None:
    """The cloud called ``name`` (case-insensitive), or ``None`` for an unknown name.

    :param name: e.g. ``AzureChinaCloud``.
    """
    wanted = name.strip().lower()
    return next((cloud for key, cloud in CLOUDS.items() if key.lower() == wanted), None)


def normalize_region(region: str) -> str | None:
    """A region as the service's host names spell it (``"West Europe"`` -> ``westeurope``).

    Returns ``None`` when what is left is not a region name (letters and digits).

    :param region: a region's name or display name.
    """
    name = re.sub(r"[\s_-]+", "", region).lower()
    return name if _REGION_RE.match(name) else None


def audience_of_scope(scope: str) -> str:
    """The audience a ``.default`` scope is for, without a trailing slash.

    ``https://management.core.windows.net//.default`` (the v1 SDK's spelling) and
    ``https://management.core.windows.net/.default`` are the same audience.

    :param scope: a scope ending in ``/.default``.
    """
    resource = scope.removesuffix(DEFAULT_SCOPE_SUFFIX)
    return resource.rstrip("/")
