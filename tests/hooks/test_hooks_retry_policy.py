"""The shared retry policy: pure decisions, no server needed."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from airflow_provider_mlpipelines.hooks._retry import (
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


def test_retry_after_wins_over_backoff_and_is_capped() -> None:
    assert policy().wait_before_retry(0, "5") == 5.0
    assert policy(max_backoff=20.0).wait_before_retry(0, "3600") == 20.0


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
        # Submissions: only failures that certainly left no effect are resent directly.
        (AttemptOutcome(429), {"idempotent": False, "can_check_submission": True}, Action.RETRY),
        (AttemptOutcome(503), {"idempotent": False, "can_check_submission": True}, Action.RETRY),
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
