"""Assembly of the v2 side inside a running emulator, and its default content.

The default content is what a v2 user starts from: one pipeline job per pipeline of the
workspace spec (the shipped ``train`` and ``score``...), submitted at first start and run for
real, ready to be registered as components (contract section 5.1). Their names are kept in the
state file, so a restart lists the same jobs.
"""

from __future__ import annotations

import json
import logging
import uuid

from airflow_provider_mlpipelines.api.clouds import AzureCloud
from airflow_provider_mlpipelines.emulator.http import EmulatorContext
from airflow_provider_mlpipelines.emulator.runs import RunService
from airflow_provider_mlpipelines.emulator.service import WorkspaceService
from airflow_provider_mlpipelines.emulator.store import Store
from airflow_provider_mlpipelines.emulator.v2.behaviour import V2Behaviour
from airflow_provider_mlpipelines.emulator.v2.codes import CodeAssets
from airflow_provider_mlpipelines.emulator.v2.operations import Operations
from airflow_provider_mlpipelines.emulator.v2.render import ArmUrls
from airflow_provider_mlpipelines.emulator.v2.service import V2Service

log = logging.getLogger(__name__)

#: The region the emulated workspace reports (contract section 3: a fixed region string).
LOCATION = "eastus2"
#: The experiment of the default jobs.
SEED_EXPERIMENT = "emulator-seed-v2"
#: Version of the source components the default jobs run.
SOURCE_VERSION = "1"
_SEED_JOBS_KEY = "v2_seed_jobs"


def source_component_name(pipeline: str) -> str:
    """The component a default job of ``pipeline`` runs (``train`` -> ``train_source``)."""
    return f"{pipeline}_source"


def attach_v2(
    context: EmulatorContext,
    workspace: WorkspaceService,
    runs: RunService,
    store: Store,
    cloud: AzureCloud,
    *,
    studio_base: str,
    lro_seconds: float = 1.0,
    behaviour: V2Behaviour | None = None,
) -> V2Service:
    """Create the v2 service, load its records, and make the handlers see it.

    :param cloud: the emulated cloud; its resource manager (and classic management)
        audience is the ARM plane's, its ML audience the scoring plane's (contract 1.4).
    :param lro_seconds: how long a long-running operation stays in progress (``Updating``).
    :param behaviour: one choice for each behaviour no evidence settles.
    """
    service = V2Service(
        workspace, runs, store, LOCATION, Operations(lro_seconds), behaviour=behaviour
    )
    service.load()
    service.code_assets = CodeAssets(store)
    context.v2 = service
    context.arm_urls = ArmUrls(context.urls, studio_base)
    context.arm_audiences = frozenset({cloud.resource_manager, cloud.management_audience})
    context.ml_audiences = frozenset({cloud.ml_audience})
    return service


def seed_jobs(service: V2Service, store: Store) -> dict[str, str]:
    """Pipeline name -> name of its default job; submitted (and run) at first start only."""
    known = store.get_meta(_SEED_JOBS_KEY)
    if known:
        return dict(json.loads(known))
    seeded: dict[str, str] = {}
    for name, spec in service.workspace.workspace.pipelines.items():
        graph = service.workspace.create_graph(spec)
        component = service.register_spec_component(
            source_component_name(name), SOURCE_VERSION, graph.id
        )
        job_name = f"seed-{name}-{uuid.uuid4().hex[:8]}".replace("_", "-")
        service.start_job(
            component,
            name=job_name,
            experiment=SEED_EXPERIMENT,
            inputs={},
            inputs_target="inputs",
            display_name=f"{name} (emulator default job)",
            tags={"emulator.seed": "true"},
            properties={},
            run_source="REMOTE.WORKSPACE.JOB",
        )
        seeded[name] = job_name
    store.set_meta(_SEED_JOBS_KEY, json.dumps(seeded))
    log.info("Submitted the v2 default jobs: %s", seeded)
    return seeded
