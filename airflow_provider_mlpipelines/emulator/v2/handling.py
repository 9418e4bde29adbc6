"""What every v2 handler shares: the plane's token and api-version checks, LRO headers, paging.

ARM handlers are wrapped by :func:`arm`, scoring handlers by :func:`scoring` (contract section
1.4); long-running answers carry the headers of contract section 2, lists the paging of 1.7.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from airflow_provider_mlpipelines.api.v2 import routes
from airflow_provider_mlpipelines.emulator.errors import EmulatorError
from airflow_provider_mlpipelines.emulator.http import context_of, json_response
from airflow_provider_mlpipelines.emulator.v2 import render
from airflow_provider_mlpipelines.emulator.v2.operations import Operation
from airflow_provider_mlpipelines.emulator.v2.service import V2Service

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Page size of ARM lists (contract section 1.7).
PAGE_SIZE = 100
#: Seconds a client should wait between polls of an operation (contract section 2).


def v2_service(request: web.Request) -> V2Service:
    """The v2 service of the emulator; 404 when the v2 API is not enabled."""
    service = context_of(request).v2
    if service is None:
        raise EmulatorError(404, "NotFound", "The v2 API is not enabled on this emulator")
    return service


def arm_urls(request: web.Request) -> render.ArmUrls:
    """The ARM URLs of the emulated workspace."""
    return context_of(request).arm_urls


def client_id_of(request: web.Request) -> str:
    """The client id of the workspace's service principal (``systemData`` names it)."""
    return context_of(request).urls.identity.client_id


def check_token(request: web.Request, audiences: frozenset[str]) -> None:
    """Accept only a valid bearer token of one of ``audiences`` (401 otherwise)."""
    context_of(request).authority.check(request.headers.get("Authorization"), audiences=audiences)


def _check_api_version(request: web.Request) -> None:
    version = request.query.get(routes.QUERY_API_VERSION)
    if not version:
        raise EmulatorError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
            "api-version",
        )
    if version not in routes.SUPPORTED_API_VERSIONS:
        raise EmulatorError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{version}' is invalid. The supported versions are "
            f"'{', '.join(sorted(routes.SUPPORTED_API_VERSIONS))}'.",
            "api-version",
        )


def arm(handler: Handler) -> Handler:
    """Wrap an ARM handler: ARM-audience token, ``api-version``, operations settled."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        check_token(request, context_of(request).arm_audiences)
        _check_api_version(request)
        v2_service(request).operations.settle()
        return await handler(request)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def scoring(handler: Handler) -> Handler:
    """Wrap a scoring handler: ML-audience token (contract section 1.4)."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        check_token(request, context_of(request).ml_audiences)
        v2_service(request).operations.settle()
        return await handler(request)

    wrapped.__name__ = handler.__name__
    wrapped.__doc__ = handler.__doc__
    return wrapped


def lro_response(
    request: web.Request, body: Any, status: int, operation: Operation, location: str
) -> web.Response:
    # As recorded: the status URL, the resource itself as Location, a 30 minute timeout, and
    # Retry-After only where the behaviour switch asks for one.
    urls = arm_urls(request)
    response = json_response(body, status=status)
    response.headers["Azure-AsyncOperation"] = urls.operation_status(location, operation.id)
    response.headers["Location"] = str(request.url)
    response.headers["x-ms-async-operation-timeout"] = "PT30M"
    retry_after(request, response)
    return response


def accepted(
    request: web.Request, operation: Operation, location: str, *, delete: bool = False
) -> web.Response:
    """A 202 as recorded: body ``null`` and a ``Location`` to poll (202 ``{}`` until done, then
    200). A job cancel has no ``Azure-AsyncOperation`` and a one hour timeout; a DELETE has
    both URLs and 30 minutes."""
    urls = arm_urls(request)
    response = web.Response(status=202, text="null", content_type="application/json")
    response.headers["Location"] = urls.operation_result(location, operation.id)
    if delete:
        response.headers["Azure-AsyncOperation"] = urls.operation_status(location, operation.id)
    response.headers["x-ms-async-operation-timeout"] = "PT30M" if delete else "PT1H"
    retry_after(request, response)
    return response


def retry_after(request: web.Request, response: web.StreamResponse) -> None:
    """Set ``Retry-After`` when the behaviour switch asks for one (recorded answers have none)."""
    seconds = v2_service(request).behaviour.lro_retry_after
    if seconds is not None:
        response.headers["Retry-After"] = f"{seconds:g}"


def paged_response(request: web.Request, items: list[Any]) -> web.Response:
    try:
        skip = max(0, int(request.query.get(routes.QUERY_SKIP, "0")))
    except ValueError:
        raise EmulatorError(400, "UserError", "$skip must be an integer", "$skip") from None
    chunk = items[skip : skip + PAGE_SIZE]
    next_link = None
    if skip + PAGE_SIZE < len(items):
        query = dict(request.query)
        query[routes.QUERY_SKIP] = str(skip + PAGE_SIZE)
        next_link = str(request.url.with_query(query))
    return json_response(render.page(chunk, next_link))
