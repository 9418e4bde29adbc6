"""Run history's batch read, ``runs:query``, as both APIs' async clients send it.

v1 pipeline runs and v2 jobs are both runs in run history under their experiment, so one
``POST .../experiments/{experiment}/runs:query`` with a ``QueryParamsDto`` reads many of them
at once. The filter is written exactly as azureml-core's ``ExperimentClient.get_runs_by_run_ids``
writes it (``RunId eq <id> or RunId eq <id> ...``, ids unquoted); the answer is a
``PaginatedRunDto`` whose ``continuationToken`` is followed to the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.models import HistoryRun, HistoryRunPage
from airflow_provider_mlpipelines.api.routes import fill_template
from airflow_provider_mlpipelines.clients.core.checks import check_id, quoted
from airflow_provider_mlpipelines.clients.core.errors import Operation
from airflow_provider_mlpipelines.clients.core.settings import ConnectionSettings
from airflow_provider_mlpipelines.clients.core.transport import Call

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.clients.core.async_transport import AsyncTransport

#: Runs per page asked for: azureml-core's ``DEFAULT_PAGE_SIZE``.
QUERY_PAGE_SIZE = 500
#: What ``RunId`` order azureml-core asks for when given none (``ORDER_BY_RUNID_EXPRESSION``).
QUERY_ORDER = ["RunId desc"]

#: Ids a filter can name unquoted without changing its meaning (Azure ML's run ids and job
#: names are letters, digits, ``-`` and ``_``); any other id is read on its own.
_PLAIN_ID = re.compile(r"[A-Za-z0-9_.-]+")


def batchable(run_id: str) -> bool:
    """Whether ``run_id`` can be named in a ``runs:query`` filter as azureml-core names it."""
    return bool(_PLAIN_ID.fullmatch(run_id)) and run_id.lower() not in ("and", "or", "eq", "null")


def run_ids_filter(run_ids: Iterable[str]) -> str:
    """``RunId eq a or RunId eq b ...``, as azureml-core writes it (ids checked, unquoted).

    :param run_ids: the runs to read; each must be a plain identifier, so that no id can
        change the filter's meaning.
    """
    ids = [check_id(run_id, "run_id") for run_id in run_ids]
    if not ids:
        raise ValueError("a runs query needs at least one run id")
    unsafe = [run_id for run_id in ids if not batchable(run_id)]
    if unsafe:
        raise ValueError(f"run ids {unsafe!r} cannot be named in a runs query filter")
    return " or ".join(f"RunId eq {run_id}" for run_id in ids)


def query_call(
    settings: ConnectionSettings,
    base_url: str,
    experiment_name: str,
    run_ids: Sequence[str],
    continuation_token: str | None = None,
) -> Call:
    """One page of ``runs:query`` for ``run_ids`` in ``experiment_name``.

    :param settings: the connection (its workspace).
    :param base_url: the run-history host (v1: the connection's; v2: the discovery's ``api``).
    :param experiment_name: the experiment the runs belong to.
    :param run_ids: the runs.
    :param continuation_token: the previous page's token.
    """
    experiment_name = check_id(experiment_name, "experiment_name")
    path = fill_template(
        routes.HISTORY_RUNS_QUERY.template,
        {**settings.workspace, "experiment_name": experiment_name},
    )
    body: dict[str, Any] = {
        "filter": run_ids_filter(run_ids),
        "continuationToken": continuation_token,
        "orderby": QUERY_ORDER,
        "top": QUERY_PAGE_SIZE,
    }
    return Call(
        Operation(routes.HISTORY_RUNS_QUERY.name, f"{len(run_ids)} in {quoted(experiment_name)}"),
        routes.HISTORY_RUNS_QUERY.method,
        base_url.rstrip("/") + path,
        body=body,
    )


def parse_page(data: Any) -> tuple[list[HistoryRun], str | None]:
    """The runs of one ``PaginatedRunDto`` page and its continuation token."""
    page = HistoryRunPage.from_json(data if isinstance(data, Mapping) else {})
    return list(page.value), page.continuation_token or None


async def query_all(
    transport: AsyncTransport, base_url: str, experiment_name: str, run_ids: Sequence[str]
) -> list[HistoryRun]:
    """Every run ``runs:query`` answers for ``run_ids``, following continuation tokens.

    :param transport: the client's transport.
    :param base_url: the run-history host.
    :param experiment_name: the runs' experiment.
    :param run_ids: the runs.
    """
    # One retry: the query only saves requests, and its caller reads per run when it fails.
    policy = replace(
        transport.settings.retry_policy, max_retries=min(1, transport.settings.max_retries)
    )
    found: list[HistoryRun] = []
    token: str | None = None
    seen: set[str] = set()
    while True:
        reply = await transport.execute(
            query_call(transport.settings, base_url, experiment_name, run_ids, token),
            policy=policy,
        )
        page, token = parse_page(reply.json())
        found.extend(page)
        if not token or token in seen:
            return found
        seen.add(token)
