"""The studio's Jinja2 environment (package templates, autoescape on) and its HTML answers.

Every value reaches a page through a template, so that autoescaping covers all of it: the SVG of
the step graph too is a template fed with numbers and names, never a string built by hand.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import jinja2
from aiohttp import web

from airflow_provider_mlpipelines.emulator.errors import EmulatorError
from airflow_provider_mlpipelines.emulator.studio import graph
from airflow_provider_mlpipelines.emulator.studio.summaries import file_url, run_url

#: Seconds between reloads of the page of a run still in flight.
REFRESH_SECONDS = 3

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("airflow_provider_mlpipelines.emulator.studio", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals.update(
    run_url=run_url,
    file_url=file_url,
    NODE_WIDTH=graph.NODE_WIDTH,
    NODE_HEIGHT=graph.NODE_HEIGHT,
)
_ENV.filters["status_class"] = lambda status: f"st-{str(status).lower()}"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def render(
    template: str, *, status: int = 200, refresh: bool = False, **values: Any
) -> web.Response:
    """A page of the studio.

    :param template: the template's file name.
    :param status: the HTTP status.
    :param refresh: reload the page every few seconds (a run in flight).
    :param values: the template's variables.
    """
    text = _ENV.get_template(template).render(
        refresh_seconds=REFRESH_SECONDS if refresh else None, **values
    )
    response = web.Response(text=text, content_type="text/html", status=status)
    # The pages are local and read-only, but nothing they show should run script.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def page(handler: Handler) -> Handler:
    """Answer an :class:`EmulatorError` of a studio handler with an HTML page of its status.

    :param handler: the studio handler.
    """

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except EmulatorError as exc:
            return render(
                "error.html", status=exc.status, title=f"{exc.status} {exc.code}", error=exc
            )

    return wrapped
