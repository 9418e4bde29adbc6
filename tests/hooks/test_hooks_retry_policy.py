"""The shared retry policy: pure decisions, no server needed."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from airflow_provider_mlpipelines.clients.core.retry import (
    Action,
    AttemptOutcome,
    RetryPolicy,
    is_ambiguous,
    parse_retry_after,
)

NOW = 1_800_000_000.0


def policy(**kwargs: object) -> RetryPolicy:
    defaults: dict[str, object] = {
        "max_retries": 3,
        "backoff": 1.0,
        "max_backoff": 60.0,
        "random_fraction": lambda: 1.0,
        "clock": lambda: NOW,
    }
    defaults.update(kwargs)
    return RetryPolicy(**defaults)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("soon", None),
        (format_datetime(datetime.fromtimestamp(NOW + 30, timezone.utc), usegmt=True), 30.0),
        (format_datetime(datetime.fromtimestamp(NOW - 30, timezone.utc), usegmt=True), 0.0),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header: str | None, expected: float) -> None:
    assert parse_retry_after(header, now=NOW) == expected


def test_backoff_doubles_up_to_the_cap_then_gives_up() -> None:
    waits = [policy(max_retries=8, max_backoff=10.0).wait_before_retry(n) for n in range(9)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0, None]


def test_full_jitter_scales_the_ceiling_by_the_random_fraction() -> None:
    jittered = policy(random_fraction=lambda: 0.25)
    assert jittered.wait_before_retry(2) == pytest.approx(1.0)  # 0.25 * 4 s


def test_retry_after_wins_over_backoff_and_is_not_cut_to_max_backoff() -> None:
    assert policy().wait_before_retry(0, "5") == 5.0
    # The service's ask is waited out in full: max_backoff bounds only our own backoff.
    assert policy(max_backoff=20.0).wait_before_retry(0, "3600") == 3600.0


def test_retry_after_is_honoured_when_it_ends_before_the_deadline() -> None:
    assert policy(deadline=NOW + 120).wait_before_retry(0, "90") == 90.0
    assert policy(deadline=NOW + 90).wait_before_retry(0, "90") == 90.0


def test_retry_after_beyond_the_deadline_fails_at_once_saying_why() -> None:
    wait, reason = policy(deadline=NOW + 30).plan_wait(0, "90")
    assert wait is None
    assert reason == "the service asked to retry after 90 s, beyond the task's deadline (30 s left)"
    decision = policy(deadline=NOW + 30).decide(0, AttemptOutcome(429, "90"))
    assert (decision.action, decision.reason) == (Action.FAIL, reason)


def test_own_backoff_beyond_the_deadline_is_not_started() -> None:
    wait, reason = policy(deadline=NOW + 3).plan_wait(2)  # 4 s backoff, 3 s left
    assert wait is None and reason is not None and "after the deadline" in reason
    assert policy(deadline=NOW + 5).plan_wait(2) == (4.0, None)


def test_until_keeps_the_earlier_deadline() -> None:
    assert policy().until(None).deadline is None
    assert policy().until(NOW + 10).deadline == NOW + 10
    assert policy(deadline=NOW + 5).until(NOW + 10).deadline == NOW + 5
    assert policy(deadline=NOW + 50).until(NOW + 10).deadline == NOW + 10


def test_zero_retries_never_waits() -> None:
    assert policy(max_retries=0).wait_before_retry(0, "1") is None


@pytest.mark.parametrize(
    ("outcome", "kwargs", "action"),
    [
        (AttemptOutcome(200), {}, Action.SUCCEED),
        (AttemptOutcome(401), {}, Action.RENEW_TOKEN),
        (AttemptOutcome(401), {"token_renewed": True}, Action.FAIL),
        (AttemptOutcome(400), {}, Action.FAIL),
        (AttemptOutcome(404), {}, Action.FAIL),
        (AttemptOutcome(409), {}, Action.FAIL),
        (AttemptOutcome(429, "1"), {}, Action.RETRY),
        (AttemptOutcome(500), {}, Action.RETRY),
        (AttemptOutcome(502), {}, Action.RETRY),
        (AttemptOutcome(503), {}, Action.RETRY),
        (AttemptOutcome(504), {}, Action.RETRY),
        (AttemptOutcome(request_may_have_arrived=True), {}, Action.RETRY),
        (AttemptOutcome(permanent=True), {}, Action.FAIL),
        # Submissions: only failures that certainly left no effect are resent directly; a 503
        # may come from a gateway after the run was created, so it is looked up first.
        (AttemptOutcome(429), {"idempotent": False, "can_check_submission": True}, Action.RETRY),
        (
            AttemptOutcome(503),
            {"idempotent": False, "can_check_submission": True},
            Action.CHECK_SUBMISSION,
        ),
        # Other non-idempotent calls keep treating a 503 as a refusal.
        (AttemptOutcome(503), {"idempotent": False}, Action.RETRY),
        (
            AttemptOutcome(request_may_have_arrived=False),
            {"idempotent": False, "can_check_submission": True},
            Action.RETRY,
        ),
        (
            AttemptOutcome(500),
            {"idempotent": False, "can_check_submission": True},
            Action.CHECK_SUBMISSION,
        ),
        (
            AttemptOutcome(504),
            {"idempotent": False, "can_check_submission": True},
            Action.CHECK_SUBMISSION,
        ),
        (
            AttemptOutcome(request_may_have_arrived=True),
            {"idempotent": False, "can_check_submission": True},
            Action.CHECK_SUBMISSION,
        ),
        (AttemptOutcome(500), {"idempotent": False}, Action.FAIL),
        (AttemptOutcome(request_may_have_arrived=True), {"idempotent": False}, Action.FAIL),
    ],
)
def test_decisions(outcome: AttemptOutcome, kwargs: dict[str, bool], action: Action) -> None:
    assert policy().decide(0, outcome, **kwargs).action is action


def test_retry_decision_carries_the_wait() -> None:
    decision = policy().decide(1, AttemptOutcome(503, "4"))
    assert (decision.action, decision.wait) == (Action.RETRY, 4.0)


def test_exhausted_retries_fail_but_still_check_an_ambiguous_submission() -> None:
    exhausted = policy(max_retries=2)
    assert exhausted.decide(2, AttemptOutcome(503)).action is Action.FAIL
    check = exhausted.decide(2, AttemptOutcome(502), idempotent=False, can_check_submission=True)
    assert (check.action, check.wait) == (Action.CHECK_SUBMISSION, None)


@pytest.mark.parametrize(
    ("outcome", "ambiguous"),
    [
        (AttemptOutcome(429), False),
        (AttemptOutcome(503), False),
        (AttemptOutcome(500), True),
        (AttemptOutcome(request_may_have_arrived=False), False),
        (AttemptOutcome(request_may_have_arrived=True), True),
    ],
)
def test_ambiguity(outcome: AttemptOutcome, ambiguous: bool) -> None:
    assert is_ambiguous(outcome) is ambiguous


def test_a_cancel_keeps_its_retries_after_the_deadline() -> None:
    from airflow_provider_mlpipelines.clients.core.errors import Operation
    from airflow_provider_mlpipelines.clients.core.transport import Call

    past = policy(deadline=NOW - 1)
    bounded = Call(Operation("get run"), "GET", "https://x/run")
    cancel = Call(Operation("cancel run"), "DELETE", "https://x/run", bounded=False)
    assert bounded.policy_within(policy(), NOW - 1).deadline == NOW - 1
    assert cancel.policy_within(policy(), NOW - 1).deadline is None
    assert past.decide(0, AttemptOutcome(503)).action is Action.FAIL
    assert cancel.policy_within(policy(), NOW - 1).decide(0, AttemptOutcome(503)).action is (
        Action.RETRY
    )


def test_the_trigger_hook_is_bounded_by_the_wait_end() -> None:
    from airflow_provider_mlpipelines.triggers.azure_ml_pipelines import AzureMLPipelineRunTrigger

    assert AzureMLPipelineRunTrigger("run", end_time=NOW).hook.deadline == NOW
    assert AzureMLPipelineRunTrigger("run").hook.deadline is None
