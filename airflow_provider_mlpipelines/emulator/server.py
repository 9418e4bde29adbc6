"""Assembly and lifecycle of a running emulator: state dir, services, HTTPS server, manifest.

Start order: load the spec, open the state, fail runs left in flight by a previous process,
create the seed runs, bind the socket, serve, then write the manifest (its presence means
"ready"). Stop order: kill running steps, stop serving, flush the state, remove the manifest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import signal
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from aiohttp import web

from airflow_provider_mlpipelines.api.clouds import CLOUDS
from airflow_provider_mlpipelines.emulator.admin_access import ensure_admin_key, make_private_dir
from airflow_provider_mlpipelines.emulator.app import DISCOVERY_PATH, create_app
from airflow_provider_mlpipelines.emulator.auth import TokenAuthority
from airflow_provider_mlpipelines.emulator.datastores import Datastores, StorageKind
from airflow_provider_mlpipelines.emulator.faults import FaultInjector
from airflow_provider_mlpipelines.emulator.http import EmulatorContext
from airflow_provider_mlpipelines.emulator.identities import FederatedCredential
from airflow_provider_mlpipelines.emulator.manifest import (
    MANIFEST_FILE,
    build_manifest,
    write_manifest,
)
from airflow_provider_mlpipelines.emulator.pipeline_doc import pipeline_to_doc
from airflow_provider_mlpipelines.emulator.render import Urls
from airflow_provider_mlpipelines.emulator.run_query import RunQueryBehaviour
from airflow_provider_mlpipelines.emulator.runner import Runner
from airflow_provider_mlpipelines.emulator.runs import RunService
from airflow_provider_mlpipelines.emulator.service import WorkspaceService
from airflow_provider_mlpipelines.emulator.spec_model import WorkspaceSpec
from airflow_provider_mlpipelines.emulator.state import State
from airflow_provider_mlpipelines.emulator.store import Store
from airflow_provider_mlpipelines.emulator.tls import ensure_certificates, server_ssl_context
from airflow_provider_mlpipelines.emulator.v2.behaviour import V2Behaviour
from airflow_provider_mlpipelines.emulator.v2.budget import ArmBudget, ArmBudgetSettings
from airflow_provider_mlpipelines.emulator.v2.setup import attach_v2, seed_jobs
from airflow_provider_mlpipelines.emulator.workspace import load_workspace

log = logging.getLogger(__name__)

SEED_EXPERIMENT = "emulator-seed"
_SEED_RUNS_KEY = "seed_runs"
_SEEDED_KEY = "datastores_seeded"
_SECRET_KEY = "client_secret"
_MI_SECRET_KEY = "managed_identity_secret"


@dataclass
class EmulatorConfig:
    """Settings of one emulator process (the CLI flags).

    :param state_dir: folder of everything the emulator keeps.
    :param port: TCP port; 0 picks a free one.
    :param host: address to listen on.
    :param advertise_url: the base URL clients on other machines use (``https://name[:port]``;
        the port listened on when it has none); its host is added to the certificate. By
        default the URL of ``host`` (127.0.0.1 when listening on every address).
    :param workspace: the workspace spec file; the shipped default when ``None``.
    :param token_lifetime: seconds an access token is valid.
    :param max_processes: real steps running at once.
    :param faults: starting fault settings (``FaultSettings`` fields); none by default.
    :param lro_seconds: how long a v2 long-running operation stays in progress (``Updating``).
    :param v2_behaviour: one choice for each v2 behaviour no evidence settles.
    :param arm_budget: ARM's request budget per subscription: off unless ``enabled``.
    :param cloud: the Azure cloud emulated: its audiences are the ones tokens are issued for.
    :param token_audiences: accepted audiences instead of the cloud's, when not empty.
    :param managed_identity_client_ids: user-assigned identities of the managed identity
        endpoint.
    :param federated_credentials: federated credentials the token endpoint trusts.
    :param runs_query: the limits and index lag of run history's ``runs:query``.
    :param datastore_storage: the storage type every datastore reports.
    """

    state_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    advertise_url: str | None = None
    workspace: Path | None = None
    token_lifetime: int = 3600
    max_processes: int = 8
    faults: dict[str, Any] = field(default_factory=dict)
    lro_seconds: float = 1.0
    v2_behaviour: V2Behaviour = field(default_factory=V2Behaviour)
    arm_budget: ArmBudgetSettings = field(default_factory=ArmBudgetSettings)
    cloud: str = "AzureCloud"
    token_audiences: tuple[str, ...] = ()
    managed_identity_client_ids: tuple[str, ...] = ()
    federated_credentials: tuple[FederatedCredential, ...] = ()
    runs_query: RunQueryBehaviour = field(default_factory=RunQueryBehaviour)
    datastore_storage: StorageKind = "AzureBlob"


class EmulatorServer:
    """One running emulator.

    :param config: its settings.
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.state_dir = config.state_dir.resolve()
        self.manifest: dict[str, object] = {}
        self._app_runner: web.AppRunner | None = None
        self._runner: Runner | None = None
        self._store: Store | None = None

    async def start(self) -> dict[str, object]:
        """Start serving; returns the manifest once it is written."""
        make_private_dir(self.state_dir)
        (self.state_dir / MANIFEST_FILE).unlink(missing_ok=True)
        admin_key = ensure_admin_key(self.state_dir)
        workspace = load_workspace(self.config.workspace)
        store = self._store = Store(self.state_dir / "state.sqlite")
        secret = workspace.identity.client_secret or store.get_or_create_meta(
            _SECRET_KEY, lambda: secrets.token_urlsafe(32)
        )
        advertised = urlsplit(self.config.advertise_url) if self.config.advertise_url else None
        also = [advertised.hostname] if advertised and advertised.hostname else []
        tls = ensure_certificates(self.state_dir, self.config.host, also)
        datastores = self._datastores(workspace, store)
        state = State(store)
        state.load()
        sock = _bind(self.config.host, self.config.port)
        base_url = _base_url(self.config.host, sock.getsockname()[1], advertised)
        urls = Urls(base_url, workspace.identity, admin_key)
        service = WorkspaceService(workspace, state, datastores)
        faults = FaultInjector(self.config.faults)
        self._runner = Runner(
            state=state,
            datastores=datastores,
            spec_of=service.spec_of,
            work_root=self.state_dir / "runs",
            spec_dir=workspace.spec_dir,
            max_processes=self.config.max_processes,
            queue_delay=lambda: faults.settings.queue_seconds,
        )
        runs = RunService(service, state, self._runner)
        interrupted = runs.reconcile_after_restart()
        if interrupted:
            log.warning(
                "Marked %d run(s) left in flight by the last emulator as Failed", interrupted
            )
        seed_runs = self._seed_runs(workspace, store, service, runs)
        cloud = CLOUDS[self.config.cloud]
        mi_secret = store.get_or_create_meta(_MI_SECRET_KEY, lambda: secrets.token_urlsafe(24))
        authority = TokenAuthority(
            workspace.identity,
            secret,
            store,
            self.config.token_lifetime,
            audiences=frozenset(self.config.token_audiences) or cloud.audiences,
            federated=self.config.federated_credentials,
            managed_identity_client_ids=self.config.managed_identity_client_ids,
            managed_identity_secret=mi_secret,
        )
        context = EmulatorContext(
            service,
            runs,
            authority,
            urls,
            faults,
            arm_budget=ArmBudget(self.config.arm_budget),
            runs_query=self.config.runs_query,
        )
        v2 = attach_v2(
            context,
            service,
            runs,
            store,
            cloud,
            studio_base=f"{base_url}/studio",
            lro_seconds=self.config.lro_seconds,
            behaviour=self.config.v2_behaviour,
        )
        v2_jobs = seed_jobs(v2, store)
        await self._serve(create_app(context, admin_key), sock, tls)
        store.flush()
        self.manifest = build_manifest(
            base_url=base_url,
            identity=workspace.identity,
            client_secret=secret,
            ca_bundle=tls.ca,
            discovery_url=base_url
            + DISCOVERY_PATH.format(workspace_name=workspace.identity.workspace_name),
            pipeline_runs=seed_runs,
            v2_pipeline_jobs=v2_jobs,
            datastores=datastores.roots,
            state_dir=self.state_dir,
            cloud=cloud,
            audiences=authority.audiences,
            managed_identity_secret=mi_secret,
            managed_identity_client_ids=self.config.managed_identity_client_ids,
            federated_credentials=self.config.federated_credentials,
            admin_key_file=admin_key.path,
        )
        context.manifest = self.manifest
        write_manifest(self.state_dir, self.manifest)
        log.info("Emulator serving %s (state %s)", base_url, self.state_dir)
        return self.manifest

    async def stop(self) -> None:
        """Kill running steps, stop serving and persist the state."""
        (self.state_dir / MANIFEST_FILE).unlink(missing_ok=True)
        if self._runner is not None:
            await self._runner.shutdown()
        if self._app_runner is not None:
            await self._app_runner.cleanup()
        if self._store is not None:
            self._store.close()
        log.info("Emulator stopped")

    def _datastores(self, workspace: WorkspaceSpec, store: Store) -> Datastores:
        datastores = Datastores(
            self.state_dir / "datastores", workspace, self.config.datastore_storage
        )
        datastores.create_folders()
        if store.get_meta(_SEEDED_KEY) is None:
            datastores.seed()
            store.set_meta(_SEEDED_KEY, "1")
        return datastores

    def _seed_runs(
        self, workspace: WorkspaceSpec, store: Store, service: WorkspaceService, runs: RunService
    ) -> dict[str, str]:
        # One finished run per spec pipeline, made once; remade only if the pipeline changed.
        seeds: dict[str, str] = json.loads(store.get_meta(_SEED_RUNS_KEY) or "{}")
        for name, spec in workspace.pipelines.items():
            run = runs.state.runs.get(seeds.get(name, ""))
            graph = None if run is None else runs.state.graphs.get(run.graph_id)
            if graph is None or graph.pipeline_doc != pipeline_to_doc(spec):
                seeds[name] = runs.create_seed_run(spec, SEED_EXPERIMENT).id
        seeds = {name: run_id for name, run_id in seeds.items() if name in workspace.pipelines}
        store.set_meta(_SEED_RUNS_KEY, json.dumps(seeds))
        return seeds

    async def _serve(self, app: web.Application, sock: socket.socket, tls: object) -> None:
        debug = log.isEnabledFor(logging.DEBUG)
        self._app_runner = web.AppRunner(
            app, access_log=logging.getLogger("aiohttp.access") if debug else None
        )
        await self._app_runner.setup()
        site = web.SockSite(self._app_runner, sock, ssl_context=server_ssl_context(tls))  # type: ignore[arg-type]
        await site.start()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # Lets a restart take the same port back while old connections sit in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def _base_url(host: str, port: int, advertised: SplitResult | None) -> str:
    """The URL clients use: the advertised one (with the bound port unless it names one)."""
    if advertised is None:
        return f"https://{_url_host(host)}:{port}"
    name = str(advertised.hostname)
    netloc = f"[{name}]" if ":" in name else name
    return f"https://{netloc}:{advertised.port or port}"


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


async def run_until_signalled(config: EmulatorConfig) -> None:
    """Run an emulator until SIGTERM or SIGINT, then stop it gracefully.

    :param config: its settings.
    """
    server = EmulatorServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
        await stop.wait()
    finally:
        try:
            await server.stop()
        except Exception:
            log.exception("Stopping the emulator failed")
