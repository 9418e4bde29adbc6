"""Endpoint read-modify-write, token renewal timing, error mapping and failure reports (pure)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from airflow_provider_mlpipelines.api.models import (
    HistoryRun,
    PipelineEndpoint,
    PipelineRun,
    PipelineVersion,
    RunStatusInfo,
    StepStatus,
)
from airflow_provider_mlpipelines.api.status import (
    EntityStatus,
    PipelineRunStatus,
    StepRunStatus,
)
from airflow_provider_mlpipelines.clients.core.errors import (
    Operation,
    connection_error,
    response_error,
)
from airflow_provider_mlpipelines.clients.core.reports import (
    FailedStep,
    failed_steps,
    render_run_failure,
    step_names,
    tail_lines,
)
from airflow_provider_mlpipelines.clients.core.tokens import TokenCache, scrub
from airflow_provider_mlpipelines.clients.v1 import endpoint_changes as _endpoints
from airflow_provider_mlpipelines.exceptions import (
    AzureMLAuthenticationError,
    AzureMLBadRequestError,
    AzureMLConflictError,
    AzureMLInvalidInputError,
    AzureMLNotFoundError,
    AzureMLServerError,
    AzureMLServiceError,
    AzureMLThrottledError,
)


# --------------------------------------------------------------------------------------------
# Endpoint changes
# --------------------------------------------------------------------------------------------
def endpoint_json(*pipelines: str, default: str = "0", **extra: object) -> dict[str, object]:
    endpoint = PipelineEndpoint(
        id="e-1",
        name="scoring",
        default_version=default,
        versions=[PipelineVersion(version=str(i), pipeline_id=p) for i, p in enumerate(pipelines)],
    )
    return {**endpoint.to_json(), **extra}


def test_adding_a_new_pipeline_appends_the_next_version() -> None:
    change = _endpoints.add_pipeline(endpoint_json("p0", "p1"), "p2", set_default=False)
    assert change.changed
    assert change.endpoint.version_of("p2") == "2"
    assert change.endpoint.default_version == "0"


def test_adding_as_default_sets_the_default() -> None:
    change = _endpoints.add_pipeline(endpoint_json("p0"), "p1", set_default=True)
    assert (change.endpoint.version_of("p1"), change.endpoint.default_version) == ("1", "1")


def test_adding_a_listed_pipeline_keeps_its_version() -> None:
    unchanged = _endpoints.add_pipeline(endpoint_json("p0", "p1"), "p0", set_default=False)
    assert not unchanged.changed
    assert unchanged.endpoint.version_names == ["0", "1"]
    made_default = _endpoints.add_pipeline(endpoint_json("p0", "p1"), "p1", set_default=True)
    assert made_default.changed
    assert made_default.endpoint.version_names == ["0", "1"]
    assert made_default.endpoint.default_version == "1"


def test_next_version_ignores_non_numeric_labels() -> None:
    assert _endpoints.next_version([]) == "0"
    assert _endpoints.next_version(["0", "7", "beta", "3"]) == "8"


def test_unknown_default_version_names_the_existing_ones() -> None:
    with pytest.raises(AzureMLInvalidInputError) as raised:
        _endpoints.set_default(endpoint_json("p0", "p1"), "5")
    assert "'5'" in str(raised.value) and "'0', '1'" in str(raised.value)


def test_set_default_and_status() -> None:
    assert _endpoints.set_default(endpoint_json("p0", "p1"), "1").endpoint.default_version == "1"
    assert not _endpoints.set_default(endpoint_json("p0"), "0").changed
    disabled = _endpoints.set_status(endpoint_json("p0"), EntityStatus.DISABLED)
    assert disabled.changed and disabled.endpoint.status is EntityStatus.DISABLED
    assert not _endpoints.set_status(endpoint_json("p0"), EntityStatus.ACTIVE).changed


def test_update_body_keeps_fields_the_model_does_not_know() -> None:
    raw = endpoint_json("p0", SomethingNew={"keep": True})
    change = _endpoints.add_pipeline(raw, "p1", set_default=True)
    body = _endpoints.update_body(raw, change.endpoint)
    assert body["SomethingNew"] == {"keep": True}
    assert body["DefaultVersion"] == "1"
    assert [v["PipelineId"] for v in body["PipelineVersionList"]] == ["p0", "p1"]


# --------------------------------------------------------------------------------------------
# Token renewal timing
# --------------------------------------------------------------------------------------------
@dataclass
class AccessTokenLike:
    token: str
    expires_on: int


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_long_lived_tokens_are_renewed_five_minutes_before_expiry() -> None:
    clock = Clock(1000.0)
    cache = TokenCache(clock)
    cache.store(AccessTokenLike("tok", 1000 + 3600), acquired_at=1000.0)
    clock.now = 1000 + 3600 - 301
    assert cache.usable_token() == "tok"
    clock.now = 1000 + 3600 - 299
    assert cache.usable_token() is None


def test_short_lived_tokens_are_renewed_at_a_fraction_of_their_lifetime() -> None:
    clock = Clock(0.0)
    cache = TokenCache(clock)
    cache.store(AccessTokenLike("tok", 10), acquired_at=0.0)
    clock.now = 7.9
    assert cache.usable_token() == "tok"
    clock.now = 8.1  # 20 % of a 10 s lifetime left
    assert cache.usable_token() is None


def test_cleared_cache_and_repr_hide_the_token() -> None:
    cache = TokenCache(Clock(0.0))
    cache.store(AccessTokenLike("very-secret-token", 100), acquired_at=0.0)
    assert "very-secret-token" not in repr(cache)
    cache.clear()
    assert cache.usable_token() is None


def test_scrub_removes_secrets() -> None:
    assert scrub("bad secret hunter2 given", "hunter2", None) == "bad secret *** given"


# --------------------------------------------------------------------------------------------
# Error mapping
# --------------------------------------------------------------------------------------------
OP = Operation("get pipeline", "'abc'")


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, AzureMLBadRequestError),
        (401, AzureMLAuthenticationError),
        (403, AzureMLAuthenticationError),
        (404, AzureMLNotFoundError),
        (409, AzureMLConflictError),
        (429, AzureMLThrottledError),
        (500, AzureMLServerError),
        (503, AzureMLServerError),
        (418, AzureMLServiceError),
    ],
)
def test_status_maps_to_exception_class(status: int, cls: type[Exception]) -> None:
    assert type(response_error(OP, status, "", {})) is cls


def test_pascal_case_error_body() -> None:
    body = (
        '{"Error": {"Code": "NotFound", "Message": "no pipeline abc",'
        ' "Details": [{"Code": "X", "Message": "look elsewhere"}]},'
        ' "Correlation": {"operation": "op-1", "request": "req-1"}}'
    )
    error = response_error(OP, 404, body, {"x-ms-request-id": "header-id"})
    assert str(error).startswith("get pipeline 'abc' failed: 404 NotFound: no pipeline abc")
    assert "look elsewhere" in str(error)
    assert (error.status_code, error.code) == (404, "NotFound")
    assert error.correlation_id == "header-id (operation op-1, request req-1)"


def test_camel_case_error_body_and_header_correlation() -> None:
    body = '{"error": {"code": "UserError", "message": "bad run"}}'
    error = response_error(OP, 400, body, {"X-Request-Id": "hdr-7"})
    assert (error.code, error.service_message, error.correlation_id) == (
        "UserError",
        "bad run",
        "hdr-7",
    )


def test_non_json_error_body_is_shortened() -> None:
    error = response_error(OP, 502, "<html>" + "x" * 1000 + "</html>", {})
    assert "502" in str(error) and len(error.service_message or "") < 400


def test_connection_error_names_the_host_and_the_operation() -> None:
    error = connection_error(
        OP, "https://example.test:8443/pipelines/x?y=1", ConnectionRefusedError("refused")
    )
    assert isinstance(error, AzureMLServerError)
    assert "get pipeline 'abc' failed" in str(error)
    assert "https://example.test:8443" in str(error) and "/pipelines" not in str(error)


# --------------------------------------------------------------------------------------------
# Failure report
# --------------------------------------------------------------------------------------------
def test_failure_report_names_failed_steps_and_their_stderr() -> None:
    steps = StepStatus.map_from_json(
        {
            "n2": {"StatusCode": 3, "StatusDetail": "exit code 2"},
            "n1": {"StatusCode": "Finished"},
            "n3": {"StatusCode": "5"},
        }
    )
    failed = failed_steps(steps)
    assert [s.node_id for s in failed] == ["n2", "n3"]
    names = step_names(
        [
            HistoryRun(run_id="c1", name="train", tags={HistoryRun.NODE_ID_TAG: "n2"}),
            HistoryRun(run_id="c2", tags={HistoryRun.NODE_ID_TAG: "n3"}),
        ]
    )
    assert names == {"n2": "train"}
    run = PipelineRun(
        id="run-9",
        status_info=RunStatusInfo(status=PipelineRunStatus.FAILED, status_detail="a step failed"),
    )
    report = render_run_failure(
        run,
        [
            FailedStep(failed[0], "train", log_tail=tail_lines("a\nb\nc\nboom\n", 2)),
            FailedStep(failed[1], None, log_problem="get step log failed: 404"),
        ],
        2,
    )
    assert report.splitlines() == [
        "Status detail: a step failed",
        "Step 'n2' (train) Failed: exit code 2",
        "  stderr (last 2 lines):",
        "    c",
        "    boom",
        "Step 'n3' Canceled",
        "  stderr unavailable: get step log failed: 404",
    ]
    assert steps["n3"].status is StepRunStatus.CANCELED


def test_report_without_failed_steps_says_so() -> None:
    run = PipelineRun(id="r", status_info=RunStatusInfo(status=PipelineRunStatus.CANCELED))
    assert render_run_failure(run, [], 5).splitlines()[-1] == "No failed step was reported."
