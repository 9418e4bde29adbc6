"""Studio (portal) addresses of runs, published pipelines and components: no I/O, both APIs."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings


def studio_url(
    settings: ConnectionSettings, kind: Literal["runs", "pipelines"], object_id: str
) -> str:
    """The studio page of a run (v2: a job) or a published pipeline in the workspace."""
    return routes.studio_url(
        settings.studio_url, kind, object_id, tenant_id=settings.tenant_id, **settings.workspace
    )


def component_url(settings: ConnectionSettings, name: str, version: str) -> str:
    """The studio page of a component version.

    The path ``components/{name}/{version}`` is the studio's own address for a workspace
    component [inferred from the studio; not in the REST contract].
    """
    wsid = routes.studio_workspace_id(**settings.workspace)
    url = (
        f"{settings.studio_url}/components/{quote(name, safe='')}/"
        f"{quote(version, safe='')}?wsid={wsid}"
    )
    if settings.tenant_id:
        url += f"&tid={quote(settings.tenant_id, safe='')}"
    return url
