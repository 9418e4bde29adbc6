"""The middleware chain every request goes through, outermost first.

1. ``count_requests``: per-route and per-status counters of ``/_emulator/stats``, and ARM
   requests by kind (``arm``).
2. ``errors_and_request_id``: gives each request an id (``x-ms-request-id`` and
   ``x-request-id``) and renders every error as the contract's body with that id in
   ``Correlation``.
3. ``require_admin_key``: the admin key of the emulator's own routes (``admin_access.py``).
4. ``network_outage``: during an outage (``outage_seconds``), resets the connection of every
   request but the emulator's own routes (counted as status 444 too).
5. ``inject_faults``: latency, 429 and 503 answers and dropped connections when switched on
   (``faults.py``); a dropped connection is counted as status 444 in the stats; v2
   long-running operations made to fail (``lro_fail_next``).
6. ``require_token``: the bearer-token check of the service APIs.
7. ``arm_budget``: when on, ARM's request budget (``v2/budget.py``): one token per
   authenticated ARM request, 429 when its subscription's bucket is empty.
8. ``require_workspace``: 404 for a subscription, group or workspace other than the emulated one.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import uuid
from datetime import datetime, timezone
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from yarl import URL

from airflow_provider_mlpipelines.api.models import ServiceErrorInfo
from airflow_provider_mlpipelines.emulator.admin_access import EMULATOR_PREFIX, require_admin_key
from airflow_provider_mlpipelines.emulator.errors import EmulatorError
from airflow_provider_mlpipelines.emulator.faults import Drop, ErrorAfterHandling
from airflow_provider_mlpipelines.emulator.http import (
    ARM_PREFIX,
    REQUEST_ID,
    SCORING_PREFIX,
    context_of,
    is_history,
    is_v2,
    json_response,
    needs_token,
)
from airflow_provider_mlpipelines.emulator.v2.budget import (
    REMAINING_HEADERS,
    THROTTLED_CODE,
    kind_of,
    subscription_of,
    throttled_message,
)

log = logging.getLogger(__name__)

#: Stats name of the token endpoint's route (see ``app.EMULATOR_ROUTES``).
TOKEN_ROUTE_NAME = "token"
#: Status counted in ``/_emulator/stats`` for a connection dropped without an answer.
DROPPED_STATUS = 444

_HTTP_CODES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "UnsupportedApiVersion",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
}


def error_response(
    request: web.Request,
    error: EmulatorError,
    request_id: str,
) -> web.Response:
    """Render an error as the pipelines (PascalCase) or run-history (camelCase) body.

    :param request: the request that failed.
    :param error: the error.
    :param request_id: the request's id, put in the body's correlation.
    """
    if is_v2(request):
        return _arm_error_response(error, request_id)
    camel = is_history(request)
    correlation = {"requestId": request_id} if camel else {"RequestId": request_id}
    info = ServiceErrorInfo(
        code=error.code,
        message=error.message,
        target=error.target,
        details=[],
        correlation=correlation,
    )
    response = json_response(info.to_json(camel_case=camel), status=error.status)
    response.headers.update(error.headers)
    return response


#: The inner error ARM names under its ``UserError`` for each status (recorded: a 404 is
#: ``UserError`` > ``NotFound``, a 400 ``UserError`` > ``BadArgument``).
_INNER_CODES = {400: "BadArgument", 404: "NotFound", 409: "Conflict", 412: "PreconditionFailed"}


def _arm_error_response(error: EmulatorError, request_id: str) -> web.Response:
    # ARM's camelCase body as the recorded answers carry it (tests/fixtures/recordings/
    # errors.json): the correlation ids and the inner error chain are additionalInfo items.
    # Retry-After only where the error set it.
    inner = _INNER_CODES.get(error.status)
    additional: list[dict[str, Any]] = [
        {"type": "ComponentName", "info": {"value": "managementfrontend"}},
        {
            "type": "Correlation",
            "info": {"value": {"operation": uuid.uuid4().hex, "request": request_id[-16:]}},
        },
        {"type": "Time", "info": {"value": datetime.now(timezone.utc).isoformat()}},
    ]
    if inner:
        additional.append(
            {"type": "InnerError", "info": {"value": {"code": inner, "innerError": None}}}
        )
    body = {
        "error": {
            "code": error.code,
            "message": error.message,
            "target": error.target,
            "details": [],
            "additionalInfo": additional,
        }
    }
    response = json_response(body, status=error.status)
    response.headers.update(error.headers)
    response.headers["x-ms-response-type"] = "error"
    return response


@web.middleware
async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count the request under its route's name and its response's status.

    :param request: the request.
    :param handler: the rest of the chain.
    """
    context = context_of(request)
    route = request.match_info.route
    context.stats.requests[context.route_names.get(route, "unmatched")] += 1
    if request.path.startswith(ARM_PREFIX):
        # Here, outside every refusal, so that the count is what clients sent (a benchmark
        # divides it by the poll interval), budget on or off.
        context.stats.arm[kind_of(request.method)] += 1
    response = await handler(request)
    context.stats.statuses[response.status] += 1
    return response


@web.middleware
async def errors_and_request_id(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request an id and turn every error into the contract's error body.

    :param request: the request.
    :param handler: the rest of the chain.
    """
    request_id = str(uuid.uuid4())
    request[REQUEST_ID] = request_id
    try:
        response = await handler(request)
    except EmulatorError as exc:
        response = error_response(request, exc, request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = error_response(request, _from_http_exception(request, exc), request_id)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception(
            "Request %s %s failed (request id %s)", request.method, request.path, request_id
        )
        error = EmulatorError(
            500, "InternalError", f"The emulator failed: {type(exc).__name__}: {exc}"
        )
        response = error_response(request, error, request_id)
    if is_v2(request):
        # As recorded: ARM answers carry x-ms-correlation-request-id and no x-ms-request-id;
        # the scoring host answers X-Request-ID.
        if request.path.startswith(SCORING_PREFIX):
            response.headers["X-Request-ID"] = request_id
        else:
            response.headers["x-ms-correlation-request-id"] = request_id
            response.headers.setdefault("x-ms-response-type", "standard")
            # The budget's remaining-requests header goes on errors raised after it too.
            response.headers.update(request.get(ARM_BUDGET_HEADERS, {}))
        return response
    response.headers["x-ms-request-id"] = request_id
    response.headers["x-request-id"] = request_id
    return response


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> EmulatorError:
    code = _HTTP_CODES.get(exc.status, "Error")
    if exc.status == 404:
        message = f"No route matches {request.method} {request.path}"
    elif exc.status == 405:
        message = f"The requested resource does not support HTTP method '{request.method}'."
    else:
        message = exc.reason
    return EmulatorError(exc.status, code, message)


@web.middleware
async def network_outage(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Reset the connection of every request but the emulator's own during an outage.

    :param request: the request.
    :param handler: the rest of the chain.
    """
    if request.path.startswith(EMULATOR_PREFIX) or not context_of(request).faults.in_outage():
        return await handler(request)
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0: closing sends a TCP reset, as a broken network path does, rather
            # than the orderly close of a server that chose to hang up.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    log.debug("Network outage: resetting the connection of %s %s", request.method, request.path)
    return _drop_connection(request)


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Delay, fail or drop service API requests as the fault settings say.

    The token endpoint is included only when the settings ask for it (``token_endpoint``);
    the emulator's own routes never are.

    :param request: the request.
    :param handler: the rest of the chain.
    """
    context = context_of(request)
    token_endpoint = context.route_names.get(request.match_info.route) == TOKEN_ROUTE_NAME
    if not (needs_token(request) or token_endpoint):
        return await handler(request)
    faults = context.faults
    delay = faults.latency(request.path, token_endpoint=token_endpoint)
    if delay > 0:
        await asyncio.sleep(delay)
    fault = faults.pick(request.path, token_endpoint=token_endpoint)
    if isinstance(fault, EmulatorError):
        raise fault
    if isinstance(fault, ErrorAfterHandling):
        # The handler's own refusal (a 4xx) still wins: only a request it accepted gets the 5xx.
        await handler(request)
        raise fault.error
    if isinstance(fault, Drop):
        if fault.after_handling:
            await handler(request)
        return _drop_connection(request)
    response = await handler(request)
    if is_v2(request) and request.method != "GET":
        _fail_operation(request, response)
    return response


#: Headers of a first response that name its long-running operation (v2 contract section 2).
_OPERATION_HEADERS = ("Azure-AsyncOperation", "Location")


def _fail_operation(request: web.Request, response: web.StreamResponse) -> None:
    # The operation the handler just started ends Failed when it is due, instead of applying
    # its change, as an ARM operation that failed on the service's side (lro_fail_next).
    url = next((response.headers[h] for h in _OPERATION_HEADERS if h in response.headers), None)
    context = context_of(request)
    if url is None or context.v2 is None or not context.faults.take_lro_failure(request.path):
        return
    operation = context.v2.operations.get(URL(url).name)

    def fail() -> None:
        raise EmulatorError(
            500, "InternalServerError", "Injected fault: the long-running operation failed"
        )

    operation.complete = fail
    log.info(
        "Injected fault: operation %s of %s %s will fail",
        operation.id,
        request.method,
        request.path,
    )


def _drop_connection(request: web.Request) -> web.Response:
    # Aborting the transport closes the socket with no bytes of an answer, like a crashed
    # gateway; the response returned only feeds the counters (444 as nginx's "no response").
    log.debug("Injected fault: dropping the connection of %s %s", request.method, request.path)
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=DROPPED_STATUS)


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse service API requests without a valid bearer token.

    :param request: the request.
    :param handler: the rest of the chain.
    """
    if needs_token(request):
        context_of(request).authority.check(request.headers.get("Authorization"))
    return await handler(request)


#: Request key of the remaining-requests header the ARM budget gives the request's answer.
ARM_BUDGET_HEADERS = "emulator_arm_budget_headers"


@web.middleware
async def arm_budget(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Spend a token of the request's kind from its subscription's ARM budget, or answer 429.

    Only while the budget is on, and only for ARM requests with a token ARM accepts: ARM
    authenticates before it throttles, so a request answered 401 spends nothing and names no
    remaining requests. A refused request is not handled: nothing is created or changed.

    :param request: the request.
    :param handler: the rest of the chain.
    """
    context = context_of(request)
    budget = context.arm_budget
    if not (budget.enabled and request.path.startswith(ARM_PREFIX) and _arm_token(request)):
        return await handler(request)
    kind = kind_of(request.method)
    subscription = subscription_of(request.path)
    taken = budget.take(subscription, kind)
    request[ARM_BUDGET_HEADERS] = {REMAINING_HEADERS[kind]: str(taken.remaining)}
    if taken.allowed:
        return await handler(request)
    context.stats.arm["throttled"] += 1
    # ARM refuses before any resource provider sees the request, so the body is ARM's own
    # (code and message only), not the machine learning provider's recorded error body.
    message = throttled_message(kind, subscription, taken.retry_after)
    response = json_response({"error": {"code": THROTTLED_CODE, "message": message}}, status=429)
    response.headers["Retry-After"] = str(taken.retry_after)
    response.headers["x-ms-response-type"] = "error"
    log.debug("ARM budget: refused %s %s (%s empty)", request.method, request.path, kind)
    return response


def _arm_token(request: web.Request) -> bool:
    context = context_of(request)
    try:
        context.authority.check(
            request.headers.get("Authorization"), audiences=context.arm_audiences
        )
    except EmulatorError:
        return False
    return True


@web.middleware
async def require_workspace(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer 404 for service routes scoped to another subscription, group or workspace.

    :param request: the request.
    :param handler: the rest of the chain.
    """
    if needs_token(request):
        identity = context_of(request).urls.identity
        expected = {
            "subscription_id": identity.subscription_id,
            "resource_group": identity.resource_group,
            "workspace_name": identity.workspace_name,
        }
        for key, value in expected.items():
            given = request.match_info.get(key)
            # Azure resource names and ids compare case-insensitively.
            if given is not None and given.lower() != value.lower():
                raise EmulatorError(
                    404,
                    "NotFound",
                    f"Workspace '{request.match_info.get('workspace_name')}' was not found in "
                    f"resource group '{request.match_info.get('resource_group')}' of "
                    f"subscription '{request.match_info.get('subscription_id')}'",
                    key,
                )
    return await handler(request)


MIDDLEWARES = (
    count_requests,
    errors_and_request_id,
    require_admin_key,
    network_outage,
    inject_faults,
    require_token,
    arm_budget,
    require_workspace,
)
