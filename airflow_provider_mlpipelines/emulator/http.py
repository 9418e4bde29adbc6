"""Request parsing and response helpers shared by the handlers."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from airflow_provider_mlpipelines.api.models import WireModel
from airflow_provider_mlpipelines.emulator.bodies import parse_object
from airflow_provider_mlpipelines.emulator.errors import bad_request
from airflow_provider_mlpipelines.emulator.run_query import RunQueryBehaviour
from airflow_provider_mlpipelines.emulator.v2.budget import KINDS, ArmBudget

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.emulator.auth import TokenAuthority
    from airflow_provider_mlpipelines.emulator.faults import FaultInjector
    from airflow_provider_mlpipelines.emulator.render import Urls
    from airflow_provider_mlpipelines.emulator.runs import RunService
    from airflow_provider_mlpipelines.emulator.service import WorkspaceService
    from airflow_provider_mlpipelines.emulator.v2.render import ArmUrls
    from airflow_provider_mlpipelines.emulator.v2.service import V2Service

M = TypeVar("M", bound=WireModel)

#: Path prefixes of the authenticated service APIs: v1 pipelines, run history, data stores,
#: v2 ARM and the v2 scoring routes (the emulator's stand-in for
#: ``{endpoint}.{region}.inference...``).
API_PREFIX = "/pipelines/"
HISTORY_PREFIX = "/history/"
DATASTORE_PREFIX = "/datastore/"
ARM_PREFIX = "/subscriptions/"
SCORING_PREFIX = "/inference/"


@dataclass
class Stats:
    """Counters served at ``/_emulator/stats``."""

    started: float = field(default_factory=time.time)
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    #: ARM requests received, by kind (reads, writes, deletes), and those the budget refused
    #: (throttled), whether the budget is on or not.
    arm: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> dict[str, Any]:
        return {
            "uptime_seconds": round(time.time() - self.started, 3),
            "requests_total": sum(self.requests.values()),
            "requests": dict(self.requests),
            "responses": {str(k): v for k, v in sorted(self.statuses.items())},
            "arm": {key: self.arm[key] for key in (*KINDS, "throttled")},
        }


@dataclass
class EmulatorContext:
    """Everything the handlers need, stored on the aiohttp application."""

    workspace: WorkspaceService
    runs: RunService
    authority: TokenAuthority
    urls: Urls
    faults: FaultInjector
    stats: Stats = field(default_factory=Stats)
    manifest: dict[str, Any] = field(default_factory=dict)
    route_names: dict[object, str] = field(default_factory=dict)
    #: The limits and index lag ``runs:query`` answers with (``run_query.py``); replaced, not
    #: changed, by ``/_emulator/admin/runs-query``.
    runs_query: RunQueryBehaviour = field(default_factory=RunQueryBehaviour)
    #: The v2 side (``emulator/v2``): its service, URLs and the audiences of its two planes.
    v2: V2Service | None = None
    arm_urls: ArmUrls | None = None
    arm_audiences: frozenset[str] = frozenset()
    ml_audiences: frozenset[str] = frozenset()
    #: ARM's request budget per subscription (``emulator/v2/budget.py``); off by default.
    arm_budget: ArmBudget = field(default_factory=ArmBudget)


CONTEXT: web.AppKey[EmulatorContext] = web.AppKey("emulator_context", EmulatorContext)
REQUEST_ID = "emulator_request_id"


def context_of(request: web.Request) -> EmulatorContext:
    """The emulator context of the request's application.

    :param request: the request.
    """
    return request.app[CONTEXT]


def is_history(request: web.Request) -> bool:
    """Whether the request is for the run-history or data store API (camelCase bodies).

    :param request: the request.
    """
    return request.path.startswith((HISTORY_PREFIX, DATASTORE_PREFIX))


def is_v2(request: web.Request) -> bool:
    """Whether the request is for a v2 ARM or scoring route (ARM error bodies, contract 9).

    :param request: the request.
    """
    return request.path.startswith((ARM_PREFIX, SCORING_PREFIX))


def needs_token(request: web.Request) -> bool:
    """Whether the request is for an authenticated service API.

    :param request: the request.
    """
    return request.path.startswith(
        (API_PREFIX, HISTORY_PREFIX, DATASTORE_PREFIX, ARM_PREFIX, SCORING_PREFIX)
    )


async def read_json(request: web.Request, *, required: bool = True) -> Any:
    """The request's JSON body.

    :param request: the request.
    :param required: whether an empty body is an error (else it reads as ``None``).
    :raises EmulatorError: 400 for malformed JSON or a missing body.
    """
    text = await request.text()
    if not text.strip():
        if required:
            raise bad_request("The request body is required (JSON)", "MissingBody")
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}", "InvalidJson") from None


async def read_model(request: web.Request, model: type[M]) -> M:
    """The request's JSON body parsed into ``model`` (field names checked for case).

    :param request: the request.
    :param model: the body's model.
    """
    return parse_object(await read_json(request), model, "")


def query_bool(request: web.Request, name: str, default: bool) -> bool:
    """A ``true``/``false`` query value.

    :param request: the request.
    :param name: the query name.
    :param default: the value when absent.
    :raises EmulatorError: 400 for any other value.
    """
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise bad_request(
        f"Query parameter {name} must be true or false, got '{raw}'", "InvalidQuery", name
    )


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response.

    :param data: the body.
    :param status: the HTTP status.
    """
    return web.Response(
        text=json.dumps(data, separators=(",", ":")),
        status=status,
        content_type="application/json",
    )


def empty_response() -> web.Response:
    """A 200 response without a body."""
    return web.Response(status=200)


def text_response(text: str) -> web.Response:
    """A plain-text 200 response.

    :param text: the body.
    """
    return web.Response(text=text, content_type="text/plain")
