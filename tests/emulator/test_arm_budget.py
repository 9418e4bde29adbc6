"""ARM's request budget in the emulator (docs/emulator.md, "ARM request budget").

One emulator started with the budget on (through ``EmulatorProcess(arm_budget=...)``, so the
command-line flags), each test setting the buckets it needs through the admin route; the
session emulator shows the default (off). The bucket itself is checked on an injected clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from emulator_client import ApiClient
from v2_client import ML_SCOPE, V2Client

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.emulator.__main__ import build_parser
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from airflow_provider_mlpipelines.emulator.v2.budget import (
    ArmBudget,
    ArmBudgetSettings,
    BucketSettings,
    TokenBucket,
    arm_budget_args,
    arm_budget_from_args,
    kind_of,
)

READS = "x-ms-ratelimit-remaining-subscription-reads"
WRITES = "x-ms-ratelimit-remaining-subscription-writes"
DELETES = "x-ms-ratelimit-remaining-subscription-deletes"
#: A refill so slow that no token comes back during a test: counts stay exact.
STILL = 0.001
ENDPOINT_BODY = {"location": "eastus2", "properties": {"authMode": "AADToken"}}


@pytest.fixture(scope="module")
def started(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EmulatorProcess, dict[str, Any]]]:
    """The module's emulator, and what it said before any test changed its budget: the
    admin route's settings and the remaining reads of three ARM reads."""
    process = EmulatorProcess(
        tmp_path_factory.mktemp("emulator-arm-budget"),
        arm_budget={"enabled": True, "reads": {"bucket": 4, "refill": STILL}},
    )
    try:
        process.start()
        client = V2Client(process.manifest)
        try:
            first = {
                "settings": process.admin("GET", "/_emulator/admin/arm-budget"),
                "reads": [
                    client.arm("GET", "", "2024-10-01-preview").headers.get(READS) for _ in range(3)
                ],
            }
        finally:
            client.close()
        yield process, first
    finally:
        process.stop()


@pytest.fixture(scope="module")
def budget_process(started: tuple[EmulatorProcess, dict[str, Any]]) -> EmulatorProcess:
    return started[0]


@pytest.fixture(scope="module")
def v2(budget_process: EmulatorProcess) -> Iterator[V2Client]:
    client = V2Client(budget_process.manifest)
    try:
        yield client
    finally:
        client.close()


def _budget(process: EmulatorProcess, reads: tuple[int, float] = (50, STILL), **kinds: Any):
    """Turn the budget on with fresh buckets: ``reads`` and any of ``writes``, ``deletes``."""
    body = {kind: {"bucket": size, "refill": rate} for kind, (size, rate) in kinds.items()}
    return process.set_arm_budget(
        enabled=True, reads={"bucket": reads[0], "refill": reads[1]}, **body
    )


def _arm_stats(process: EmulatorProcess) -> dict[str, int]:
    return process.stats()["arm"]


# ------------------------------------------------------------------------------ off
def test_the_budget_is_off_by_default_no_headers_and_no_429(emulator: EmulatorProcess) -> None:
    assert emulator.admin("GET", "/_emulator/admin/arm-budget")["enabled"] is False
    client = V2Client(emulator.manifest)
    try:
        answers = [client.arm("GET", "", "2024-10-01-preview") for _ in range(3)]
        answers.append(client.arm("PUT", "/batchEndpoints/off-by-default", json=ENDPOINT_BODY))
    finally:
        client.close()
    assert [a.status_code for a in answers] == [200, 200, 200, 201]
    assert not [h for a in answers for h in a.headers if h.lower().startswith("x-ms-ratelimit")]


def test_turned_off_even_a_one_token_bucket_never_answers_429(
    v2: V2Client, budget_process: EmulatorProcess
) -> None:
    budget_process.set_arm_budget(enabled=False, reads={"bucket": 1, "refill": STILL})
    answers = [v2.arm("GET", "", "2024-10-01-preview") for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    assert all(READS not in a.headers for a in answers)


# ------------------------------------------------------------------------------ on
def test_the_flags_at_start_turn_it_on_and_each_read_takes_one_token(
    started: tuple[EmulatorProcess, dict[str, Any]],
) -> None:
    settings = started[1]["settings"]
    assert settings["enabled"] is True and settings["reads"] == {"bucket": 4, "refill": STILL}
    assert settings["writes"] == {"bucket": 200, "refill": 10.0}
    assert started[1]["reads"] == ["3", "2", "1"]


def test_writes_and_deletes_have_budgets_of_their_own_and_errors_name_them(
    v2: V2Client, budget_process: EmulatorProcess
) -> None:
    _budget(budget_process, (5, STILL), writes=(3, STILL), deletes=(2, STILL))
    read = v2.arm("GET", "/batchEndpoints/none-such")  # a 404 spends and says so too
    write = v2.arm("PUT", "/batchEndpoints/no-body")
    delete = v2.arm("DELETE", "/batchEndpoints/none-such")
    missing_version = v2.arm("GET", "/batchEndpoints", None)
    assert [r.status_code for r in (read, write, delete, missing_version)] == [404, 400, 204, 400]
    assert (read.headers[READS], missing_version.headers[READS]) == ("4", "3")
    assert (write.headers[WRITES], delete.headers[DELETES]) == ("2", "1")
    assert READS not in write.headers and WRITES not in delete.headers
    assert budget_process.admin("GET", "/_emulator/admin/arm-budget")["remaining"] == {
        v2.manifest["subscription_id"].lower(): {"reads": 3, "writes": 2, "deletes": 1}
    }


def test_each_subscription_has_its_own_budget(
    v2: V2Client, budget_process: EmulatorProcess
) -> None:
    _budget(budget_process, (3, STILL))
    other = "00000000-0000-0000-0000-0000000000ff"
    url = v2.base_url + v2.ws.replace(v2.manifest["subscription_id"], other)
    foreign = v2.url(url + "?api-version=2024-10-01-preview")
    assert (foreign.status_code, foreign.headers[READS]) == (404, "2")
    assert v2.arm("GET", "", "2024-10-01-preview").headers[READS] == "2"


def test_an_empty_bucket_answers_429_and_the_refused_put_creates_nothing(
    v2: V2Client, budget_process: EmulatorProcess
) -> None:
    _budget(budget_process, (20, STILL), writes=(1, 0.25))
    assert v2.arm("PUT", "/batchEndpoints/budget-first", json=ENDPOINT_BODY).status_code == 201
    refused = v2.arm("PUT", "/batchEndpoints/budget-second", json=ENDPOINT_BODY)
    assert refused.status_code == 429
    # A quarter token a second: the next whole one is 4 s away.
    assert refused.headers["Retry-After"] == "4"
    assert refused.headers[WRITES] == "0"
    assert refused.headers["x-ms-correlation-request-id"]
    error = refused.json()
    assert set(error) == {"error"} and set(error["error"]) == {"code", "message"}
    assert error["error"]["code"] == "SubscriptionRequestsThrottled"
    subscription = v2.manifest["subscription_id"].lower()
    assert f"'write' requests for subscription '{subscription}'" in error["error"]["message"]
    assert v2.arm("GET", "/batchEndpoints/budget-second").status_code == 404
    assert v2.arm("GET", "/batchEndpoints/budget-first").status_code == 200


def test_a_read_refused_while_empty_passes_once_the_bucket_refills(
    v2: V2Client, budget_process: EmulatorProcess
) -> None:
    _budget(budget_process, (2, 4.0))
    answers = [v2.arm("GET", "", "2024-10-01-preview") for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert (answers[2].status_code, answers[2].headers["Retry-After"]) == (429, "1")
    time.sleep(0.3)  # 4 tokens a second: more than one is back
    again = v2.arm("GET", "", "2024-10-01-preview")
    assert (again.status_code, again.headers[READS]) == (200, "0")
    # Setting the budget again fills every bucket.
    _budget(budget_process, (2, 4.0))
    assert v2.arm("GET", "", "2024-10-01-preview").headers[READS] == "1"


def test_requests_that_are_not_arm_or_not_authenticated_never_spend(
    v2: V2Client, budget_process: EmulatorProcess
) -> None:
    manifest = budget_process.manifest
    _budget(budget_process, (3, STILL))
    api = ApiClient(manifest)
    try:
        run_id = manifest["pipeline_runs"]["train"]
        assert api.request(routes.RUN_GET, run_id=run_id).status_code == 200  # v1
        assert api.request(routes.PIPELINE_LIST).status_code == 200  # v1
        assert api.request(routes.HISTORY_RUN, run_id=run_id).status_code == 200  # run history
    finally:
        api.close()
    job = manifest["v2_pipeline_jobs"]["train"]
    children = f"{v2.base_url}/history/v1.0{v2.ws}/runs/{job}/children?api-version=v1.0"
    assert v2.url(children).status_code == 200
    token = requests.post(
        f"{v2.base_url}/{manifest['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": manifest["client_id"],
            "client_secret": manifest["client_secret"],
            "scope": "https://management.azure.com/.default",
        },
        verify=v2.ca,
        timeout=30,
    )
    assert token.status_code == 200
    budget_process.stats()
    budget_process.admin("GET", "/_emulator/admin/arm-budget")
    # ARM authenticates before it throttles: no token, or one of the other plane, spends nothing.
    for refused in (
        v2.arm("GET", "", "2024-10-01-preview", token="not-a-token"),
        v2.arm("GET", "", "2024-10-01-preview", token=v2.token(ML_SCOPE)),
    ):
        assert refused.status_code == 401 and READS not in refused.headers
    assert v2.arm("GET", "", "2024-10-01-preview").headers[READS] == "2"


def test_stats_count_arm_requests_by_kind_and_the_throttled_ones(
    v2: V2Client, budget_process: EmulatorProcess
) -> None:
    _budget(budget_process, (2, STILL), writes=(1, STILL), deletes=(1, STILL))
    before = _arm_stats(budget_process)
    statuses = [
        v2.arm("GET", "", "2024-10-01-preview").status_code,
        v2.arm("GET", "/batchEndpoints/none-such").status_code,
        v2.arm("GET", "", "2024-10-01-preview").status_code,
        v2.arm("PUT", "/batchEndpoints/no-body").status_code,
        v2.arm("POST", "/jobs/none-such/cancel", "2023-04-01-preview").status_code,
        v2.arm("DELETE", "/batchEndpoints/none-such").status_code,
    ]
    assert statuses == [200, 404, 429, 400, 429, 204]
    ApiClient(budget_process.manifest).request(routes.PIPELINE_LIST)  # not ARM: not counted
    after = _arm_stats(budget_process)
    delta = {key: after[key] - before[key] for key in after}
    assert delta == {"reads": 3, "writes": 2, "deletes": 1, "throttled": 2}
    # Off, every ARM request still counts, an unrouted path's 404 and a 401 included.
    budget_process.set_arm_budget(enabled=False)
    before = _arm_stats(budget_process)
    unrouted = v2.url(f"{v2.base_url}/subscriptions/{v2.manifest['subscription_id']}/nowhere")
    assert unrouted.status_code == 404
    assert v2.arm("GET", "", token="not-a-token").status_code == 401
    after = _arm_stats(budget_process)
    assert {key: after[key] - before[key] for key in after} == {
        "reads": 2,
        "writes": 0,
        "deletes": 0,
        "throttled": 0,
    }


def test_the_admin_route_refuses_settings_out_of_range(budget_process: EmulatorProcess) -> None:
    for body in ({"reads": {"bucket": 0}}, {"writes": {"refill": 0}}, {"enabled": "yes"}, {"x": 1}):
        with pytest.raises(requests.HTTPError) as raised:
            budget_process.set_arm_budget(**body)
        assert raised.value.response.status_code == 400


def test_the_helper_sets_a_budget_for_one_block_then_restores_the_earlier(
    budget_process: EmulatorProcess,
) -> None:
    earlier = budget_process.set_arm_budget(enabled=False, reads={"bucket": 7, "refill": 1.5})
    with budget_process.arm_budget(enabled=True, deletes={"bucket": 9, "refill": 3}) as inside:
        assert inside["enabled"] is True
        assert inside["deletes"] == {"bucket": 9, "refill": 3.0}
        assert inside["reads"] == {"bucket": 250, "refill": 25.0}  # left out: ARM's figure
    assert budget_process.admin("GET", "/_emulator/admin/arm-budget") == earlier


# ------------------------------------------------------------------------------ the model
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_starts_full_refills_by_fractions_and_never_overflows() -> None:
    clock = Clock()
    bucket = TokenBucket(BucketSettings(3, 2.0), clock)
    assert [bucket.take().remaining for _ in range(3)] == [2, 1, 0]
    refused = bucket.take()
    assert (refused.allowed, refused.remaining, refused.retry_after) == (False, 0, 1)
    clock.now += 0.25  # half a token: still refused, and Retry-After is at least 1
    assert (bucket.take().allowed, bucket.take().retry_after) == (False, 1)
    clock.now += 0.25
    assert bucket.take().allowed
    clock.now += 60
    assert bucket.remaining() == 3
    slow = TokenBucket(BucketSettings(1, 0.4), clock)
    slow.take()
    assert slow.take().retry_after == 3  # 2.5 s to a token, rounded up
    clock.now += 2.4
    assert slow.take().retry_after == 1


def test_the_budget_keeps_a_bucket_per_subscription_and_kind() -> None:
    clock = Clock()
    small = BucketSettings(1, 1.0)
    budget = ArmBudget(ArmBudgetSettings(True, small, small, small), clock)
    assert budget.take("a", "reads").allowed and not budget.take("a", "reads").allowed
    assert budget.take("a", "writes").allowed and budget.take("b", "reads").allowed
    assert budget.remaining() == {"a": {"reads": 0, "writes": 0}, "b": {"reads": 0}}
    budget.configure(ArmBudgetSettings(True, small, small, small))
    assert budget.take("a", "reads").allowed


def test_methods_map_to_arms_kinds() -> None:
    assert [kind_of(m) for m in ("GET", "HEAD", "PUT", "POST", "PATCH", "DELETE")] == [
        "reads",
        "reads",
        "writes",
        "writes",
        "writes",
        "deletes",
    ]


def test_the_cli_flags_carry_the_settings_and_refuse_bad_ones(tmp_path: Path) -> None:
    defaults = arm_budget_from_args(build_parser().parse_args(["--state-dir", str(tmp_path)]))
    assert defaults == ArmBudgetSettings()
    assert (defaults.enabled, defaults.reads, defaults.writes, defaults.deletes) == (
        False,
        BucketSettings(250, 25.0),
        BucketSettings(200, 10.0),
        BucketSettings(200, 10.0),
    )
    wanted = ArmBudgetSettings(
        True, BucketSettings(5, 0.5), BucketSettings(2, 1.0), BucketSettings(3, 2.0)
    )
    argv = ["--state-dir", str(tmp_path), *arm_budget_args(wanted)]
    assert "--arm-read-bucket" in argv and "--arm-delete-refill" in argv
    assert arm_budget_from_args(build_parser().parse_args(argv)) == wanted
    with pytest.raises(ValueError, match="refill"):
        arm_budget_from_args(
            build_parser().parse_args(["--state-dir", str(tmp_path), "--arm-write-refill", "0"])
        )
