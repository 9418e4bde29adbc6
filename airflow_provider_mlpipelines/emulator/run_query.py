"""Run history's batch read ``runs:query``: the runs of one experiment that a filter selects,
a page at a time, as azureml-core's ``ExperimentClient.get_runs`` and ``get_runs_by_run_ids``
ask for them (``QueryParamsDto`` in, ``PaginatedRunDto`` out).

Every run-history run of the experiment is a candidate: v1 pipeline runs, their step runs, v2
jobs and their step runs (all records of the one run store), each answered as the same
``RunDto`` that ``GET .../runs/{run_id}`` answers for it. The filter (:mod:`.run_filter`) is
evaluated on that ``RunDto``, so what a filter selects is what the answer shows.

Pages are keyset pages: a continuation token holds the sort key of the last run answered and a
digest of the query (experiment, filter, order), so a run created between two pages neither
repeats nor shifts another, and a token of another query is refused.

What the real service does beyond what azureml-core asks is not documented: how many ids one
query may name, the largest page it answers, how far its index lags behind writes.
:class:`RunQueryBehaviour` holds one choice for each (the ``--runs-query-*`` flags, and
``/_emulator/admin/runs-query`` at run time).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_mlpipelines.emulator import render
from airflow_provider_mlpipelines.emulator.errors import EmulatorError, bad_request, listing
from airflow_provider_mlpipelines.emulator.pagination import DEFAULT_PAGE_SIZE
from airflow_provider_mlpipelines.emulator.records import RunRecord, StepRecord
from airflow_provider_mlpipelines.emulator.run_filter import (
    FILTER_FIELD,
    Expression,
    as_utc,
    parse_filter,
)
from airflow_provider_mlpipelines.emulator.state import State

#: ``QueryParamsDto``'s keys as azureml-core sends them, by lower-case name (read in any case).
_BODY_KEYS = {
    "filter": "filter",
    "continuationtoken": "continuationToken",
    "orderby": "orderby",
    "top": "top",
}
_FIELD_LIST = listing([*_BODY_KEYS.values()])
#: Sort keys served, by lower-case name: (their spelling, the ``RunDto`` key sorted on).
_ORDER_FIELDS = {
    "runid": ("RunId", "runId"),
    "createdutc": ("CreatedUtc", "createdUtc"),
    "starttimeutc": ("StartTimeUtc", "startTimeUtc"),
}
#: azureml-core's default order of ``get_runs_by_run_ids`` (``ORDER_BY_RUNID_EXPRESSION``).
DEFAULT_ORDER = "RunId desc"


@dataclass(frozen=True)
class RunQueryBehaviour:
    """The emulator's choices for the real service's undocumented limits of ``runs:query``.

    :param max_ids: a filter naming more ``RunId eq`` terms is refused with 400; 0: no limit.
    :param max_top: the largest page: a larger ``top`` is answered in pages of this many.
    :param lag_seconds: the query's index lags this far behind writes: a run created, or whose
        status changed, less than this long ago is left out of the answers (the emulator keeps
        no earlier status to show instead). The run can be read by id at once.
    """

    max_ids: int = 0
    max_top: int = DEFAULT_PAGE_SIZE
    lag_seconds: float = 0.0

    def __post_init__(self) -> None:
        _check_number("max_ids", self.max_ids, 0, whole=True)
        _check_number("max_top", self.max_top, 1, whole=True)
        _check_number("lag_seconds", self.lag_seconds, 0, whole=False)

    def updated(self, changes: Any) -> RunQueryBehaviour:
        """These settings with ``changes`` applied (the admin route's JSON object).

        :param changes: some of ``max_ids``, ``max_top``, ``lag_seconds``.
        :raises EmulatorError: 400 for another key or an invalid value.
        """
        names = [f.name for f in fields(self)]
        if not isinstance(changes, dict) or set(changes) - set(names):
            raise bad_request(
                f"The body must be a JSON object of some of {listing(names)}", "InvalidBody"
            )
        return RunQueryBehaviour(**{**asdict(self), **changes})


def add_flags(parser: argparse.ArgumentParser) -> None:
    """Add the "run history query" argument group to the emulator's command line.

    :param parser: the emulator's parser.
    """
    group = parser.add_argument_group(
        "run history query",
        "Limits of POST .../experiments/{name}/runs:query that no document gives for the real "
        "service (docs/emulator.md, Unknowns); change them at run time with PUT "
        "/_emulator/admin/runs-query {max_ids, max_top, lag_seconds}.",
    )
    group.add_argument(
        "--runs-query-max-ids",
        type=_at_least(0, int),
        default=0,
        metavar="N",
        help="A filter naming more than N 'RunId eq' terms is refused with 400 (default 0: "
        "no limit).",
    )
    group.add_argument(
        "--runs-query-max-top",
        type=_at_least(1, int),
        default=DEFAULT_PAGE_SIZE,
        metavar="N",
        help=f"Largest page: a larger top is answered N runs a page, the rest through the "
        f"continuation token (default {DEFAULT_PAGE_SIZE}).",
    )
    group.add_argument(
        "--runs-query-lag",
        type=_at_least(0, float),
        default=0.0,
        metavar="SECONDS",
        help="The query's index lags this far behind: a run created, or whose status changed, "
        "less than SECONDS ago is left out of query answers (default 0).",
    )


def from_args(args: argparse.Namespace) -> RunQueryBehaviour:
    """The settings the ``--runs-query-*`` flags ask for.

    :param args: the parsed command line.
    """
    return RunQueryBehaviour(args.runs_query_max_ids, args.runs_query_max_top, args.runs_query_lag)


def _at_least(least: int, kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            value = least - 1
        if not value >= least:  # NaN too
            raise argparse.ArgumentTypeError(f"must be a number of at least {least}, not {text!r}")
        return value

    return parse


def _check_number(name: str, value: Any, least: int, *, whole: bool) -> None:
    kinds = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value >= least:
        kind = "a whole number" if whole else "a number"
        raise bad_request(f"{name} must be {kind} of at least {least}, got {value!r}", target=name)


def query_runs(
    state: State, experiment: str, body: Any, behaviour: RunQueryBehaviour
) -> dict[str, Any]:
    """One page of ``POST .../experiments/{experiment}/runs:query``: a ``PaginatedRunDto``.

    :param state: the run store.
    :param experiment: the experiment in the path; only its runs are answered.
    :param body: the ``QueryParamsDto`` (``None`` for no body: every run, default order).
    :param behaviour: the limits and lag in force.
    :raises EmulatorError: 400 for a filter, ``top``, ``orderby`` or token it cannot serve.
    """
    params = _params(body)
    text = params.get("filter") or ""
    expression = parse_filter(text) if text.strip() else None
    if expression is not None and behaviour.max_ids:
        named = expression.count_run_ids()
        if named > behaviour.max_ids:
            raise bad_request(
                f"The filter names {named} run ids (RunId eq terms); at most "
                f"{behaviour.max_ids} are answered per query (--runs-query-max-ids)",
                "TooManyRunIds",
                FILTER_FIELD,
            )
    order_key, descending = _order(params.get("orderby"))
    size = min(_top(params.get("top")), behaviour.max_top)
    digest = _digest(experiment, text, order_key, descending)
    token = params.get("continuationToken")
    after = _decode(token, digest) if token else None
    keyed = sorted(
        (
            (_sort_key(dto, order_key), dto)
            for dto in _selected(state, experiment, expression, behaviour)
        ),
        key=lambda pair: pair[0],
        reverse=descending,
    )
    if after is not None:
        keyed = [pair for pair in keyed if (pair[0] < after if descending else pair[0] > after)]
    page = keyed[:size]
    next_token = _encode(digest, page[-1][0]) if len(keyed) > size else None
    return {"value": [dto for _, dto in page], "continuationToken": next_token, "nextLink": None}


def _selected(
    state: State, experiment: str, expression: Expression | None, behaviour: RunQueryBehaviour
) -> Iterator[dict[str, Any]]:
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=behaviour.lag_seconds)
    ids, exact = expression.run_id_candidates() if expression is not None else (None, False)
    for dto, changes in _candidates(state, experiment, ids):
        if behaviour.lag_seconds and any(
            as_utc(datetime.fromisoformat(moment)) > cutoff for moment in changes if moment
        ):
            continue
        if expression is None or exact or expression.matches(dto):
            yield dto


def _candidates(
    state: State, experiment: str, ids: frozenset[str] | None
) -> Iterator[tuple[dict[str, Any], tuple[str | None, ...]]]:
    """Each run-history run of the experiment (of ``ids`` only, when given): its ``RunDto`` and
    the times its status changed.

    The DTOs are those the per-run GET answers (``handlers_history``), from the same renderers.
    """
    # (a run, whether the run itself is asked for, which of its steps are)
    picked: list[tuple[RunRecord, bool, list[StepRecord]]] = []
    if ids is None:
        picked = [(run, True, run.steps) for run in list(state.runs.values())]
    for run_id in ids or ():
        if run_id in state.runs:
            picked.append((state.runs[run_id], True, []))
        elif run_id in state.steps_by_run_id:
            parent, step = state.steps_by_run_id[run_id]
            picked.append((parent, False, [step]))
    for run, whole, steps in picked:
        if run.experiment_name != experiment:
            continue
        if whole:
            yield render.history_run(run), (run.created, run.start_time, run.end_time)
        for step in steps:
            changes = (step.creation_time or run.created, step.schedule_time)
            yield render.history_step(run, step), (*changes, step.start_time, step.end_time)


def _params(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise bad_request("The body must be a QueryParamsDto JSON object", "InvalidBody")
    params: dict[str, Any] = {}
    for key, value in body.items():
        name = _BODY_KEYS.get(key.lower())
        if name is None:
            raise bad_request(
                f"'{key}' is not a field of QueryParamsDto; fields: {_FIELD_LIST}",
                "InvalidBody",
                key,
            )
        if name in ("filter", "continuationToken") and not isinstance(value, str | None):
            raise bad_request(f"{name} must be a string or null", "InvalidBody", name)
        params[name] = value
    return params


def _top(top: Any) -> int:
    if top is None:
        return DEFAULT_PAGE_SIZE
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise bad_request(
            f"top must be a whole number of at least 1, got {top!r}", "InvalidQuery", "top"
        )
    return top


def _order(orderby: Any) -> tuple[str, bool]:
    """The ``RunDto`` key to sort on and whether descending, from ``orderby``.

    azureml-core sends one ``"<field> asc|desc"`` string (its own list cut to the first item);
    a list of one is taken too.
    """
    if orderby is None or orderby == []:
        orderby = DEFAULT_ORDER
    if isinstance(orderby, list) and len(orderby) == 1:
        orderby = orderby[0]
    served = "one of RunId, CreatedUtc, StartTimeUtc, then asc or desc"
    if not isinstance(orderby, str):
        raise bad_request(
            f"orderby {json.dumps(orderby)} is not supported: it takes {served}",
            "InvalidQuery",
            "orderby",
        )
    words = orderby.split()
    field = _ORDER_FIELDS.get(words[0].lower()) if words else None
    direction = words[1].lower() if len(words) == 2 else "asc"
    if field is None or len(words) > 2 or direction not in ("asc", "desc"):
        raise bad_request(
            f"orderby '{orderby}' is not supported: it takes {served}", "InvalidQuery", "orderby"
        )
    return field[1], direction == "desc"


def _sort_key(dto: dict[str, Any], order_key: str) -> tuple[str, str]:
    # Ties (and the runs without a start time, which sort first) are ordered by run id, so the
    # key is unique and a page can start right after the last key of the previous one.
    value = dto.get(order_key) or ""
    if value and order_key != "runId":
        moment = as_utc(datetime.fromisoformat(value)).astimezone(timezone.utc)
        value = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return value, str(dto.get("runId", ""))


def _digest(experiment: str, text: str, order_key: str, descending: bool) -> str:
    query = json.dumps([experiment, text, order_key, descending])
    return hashlib.sha256(query.encode()).hexdigest()[:16]


def _encode(digest: str, key: tuple[str, str]) -> str:
    raw = json.dumps({"query": digest, "after": list(key)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str, digest: str) -> tuple[str, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()))
        after = data["after"]
        if data["query"] == digest and len(after) == 2 and all(isinstance(a, str) for a in after):
            return after[0], after[1]
    except (ValueError, KeyError, TypeError, binascii.Error):
        pass
    raise EmulatorError(
        400,
        "InvalidContinuationToken",
        "continuationToken is not one this query returned: a token continues the query of the "
        "same experiment, filter and orderby that answered it",
        "continuationToken",
    )
