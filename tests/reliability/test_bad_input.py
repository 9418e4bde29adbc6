"""Bad input is refused with a message naming the problem (and the valid choices), before
anything is submitted: neither the emulator's run count nor its count of submit requests moves.

One table covers every row; each row builds the submit operator and calls ``execute`` with a
recording task instance, against the session emulator (real HTTPS, real credential).
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from airflow_provider_mlpipelines.exceptions import AzureMLPipelinesError
from airflow_provider_mlpipelines.operators.azure_ml_pipelines import (
    AzureMLSubmitPipelineRunOperator,
)

from .conftest import EmulatorAdmin, RecordingTaskInstance


class ListeningSocket:
    """A TCP socket on another loopback port that records every connection it gets."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.received.append(conn.recv(65536))
                except OSError:
                    self.received.append(b"<connected>")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture(scope="module")
def decoy() -> Iterator[ListeningSocket]:
    listener = ListeningSocket()
    try:
        yield listener
    finally:
        listener.close()


@pytest.fixture(scope="module")
def disabled(hook: Any, session_conn: dict[str, Any]) -> dict[str, str]:
    """A disabled published pipeline and a disabled endpoint."""
    suffix = uuid.uuid4().hex[:8]
    run_id = session_conn["pipeline_runs"]["simulated"]
    pipeline = hook.publish_pipeline_from_run(run_id, name=f"rel-disabled-{suffix}", version="1")
    hook.set_published_pipeline_status(pipeline.id, "Disabled")
    active = hook.publish_pipeline_from_run(run_id, name=f"rel-active-{suffix}", version="1")
    endpoint = hook.create_pipeline_endpoint(f"rel-disabled-{suffix}", active.id)
    hook.set_pipeline_endpoint_status(endpoint.id, "Disabled")
    return {"pipeline": pipeline.id, "endpoint": endpoint.name}


def _other_host_url(published: dict[str, Any], port: int) -> str:
    url = published["endpoint"].url
    rest = url.partition("://")[2].partition("/")[2]
    return f"https://127.0.0.1:{port}/{rest}"


# (row id, operator arguments, message fragments); "{x}" placeholders are filled per row.
ROWS: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("no_target", {}, ("exactly one submission target", "published_pipeline_id", "none was")),
    (
        "two_targets",
        {"published_pipeline_id": "{train}", "pipeline_endpoint_name": "{endpoint_name}"},
        ("exactly one submission target", "were given"),
    ),
    ("unknown_pipeline_id", {"published_pipeline_id": "{unknown}"}, ("{unknown}",)),
    ("unknown_endpoint_id", {"pipeline_endpoint_id": "{unknown}"}, ("{unknown}",)),
    (
        "unknown_endpoint_name",
        {"pipeline_endpoint_name": "no-such-endpoint"},
        ("no-such-endpoint",),
    ),
    (
        "unknown_endpoint_version",
        {"pipeline_endpoint_name": "{endpoint_name}", "pipeline_version": "99"},
        ("no version '99'", "its versions are '0'"),
    ),
    ("disabled_pipeline", {"published_pipeline_id": "{disabled_pipeline}"}, ("Disabled", "Active")),
    (
        "disabled_endpoint",
        {"pipeline_endpoint_name": "{disabled_endpoint}"},
        ("Disabled", "not Active"),
    ),
    (
        "unknown_parameter",
        {"published_pipeline_id": "{train}", "parameters": {"epoch": 3}},
        ("unknown parameter 'epoch'", "learning_rate", "epochs"),
    ),
    (
        "wrong_type_int",
        {"published_pipeline_id": "{train}", "parameters": {"epochs": "many"}},
        ("parameter 'epochs'", "'many' is not a valid"),
    ),
    (
        "wrong_type_float",
        {"published_pipeline_id": "{train}", "parameters": {"learning_rate": "fast"}},
        ("parameter 'learning_rate'", "'fast' is not a valid"),
    ),
    ("id_dotdot", {"published_pipeline_id": "../pipelines"}, ("published_pipeline_id", "'/'")),
    ("id_slash", {"pipeline_endpoint_id": "a/b"}, ("pipeline_endpoint_id", "not allowed")),
    ("id_query", {"pipeline_endpoint_name": "a?b=1"}, ("pipeline_endpoint_name", "not allowed")),
    (
        "version_path",
        {"pipeline_endpoint_name": "{endpoint_name}", "pipeline_version": "../1"},
        ("pipeline_version", "not allowed"),
    ),
    (
        "datetime_parameter",
        {"published_pipeline_id": "{train}", "parameters": {"epochs": datetime(2026, 1, 1)}},
        ("parameter 'epochs'", "datetime", "string, integer, float or boolean"),
    ),
    (
        "set_parameter",
        {"published_pipeline_id": "{train}", "parameters": {"epochs": {1, 2}}},
        ("parameter 'epochs'", "set", "string, integer, float or boolean"),
    ),
    (
        "parameters_not_a_dict",
        {"published_pipeline_id": "{train}", "parameters": {1, 2}},
        ("parameters must be a dict",),
    ),
    (
        "datetime_tag",
        {"published_pipeline_id": "{train}", "tags": {"when": datetime(2026, 1, 1)}},
        ("tag 'when'", "datetime", "string, integer, float or boolean"),
    ),
    (
        "set_tag",
        {"published_pipeline_id": "{train}", "tags": {"labels": {"a"}}},
        ("tag 'labels'", "set", "string, integer, float or boolean"),
    ),
    (
        "rest_endpoint_other_host",
        {"rest_endpoint": "{other_host_url}"},
        ("not on the connection's service", "not sent to another host"),
    ),
    (
        "rest_endpoint_plain_http",
        {"rest_endpoint": "http://example.com/pipelines/v1.0/x"},
        ("refusing plain http",),
    ),
    (
        "data_paths_text_not_json",
        {"published_pipeline_id": "{train}", "data_path_assignments": "input=store/path"},
        ("data_path_assignments is a string but not JSON", "'datastore'"),
    ),
    (
        "data_paths_json_list",
        {"published_pipeline_id": "{train}", "data_path_assignments": '["store", "path"]'},
        ("data_path_assignments must be a dict", "got list"),
    ),
    (
        "data_paths_list",
        {"published_pipeline_id": "{train}", "data_path_assignments": [("input", "x")]},
        ("data_path_assignments must be a dict", "got list"),
    ),
    (
        "datasets_int",
        {"published_pipeline_id": "{train}", "dataset_assignments": 5},
        ("dataset_assignments must be a dict", "saved dataset id", "got int"),
    ),
    (
        "datasets_json_string",
        {"published_pipeline_id": "{train}", "dataset_assignments": '"1234-abcd"'},
        ("dataset_assignments must be a dict", "got str"),
    ),
    (
        "experiment_space",
        {"published_pipeline_id": "{train}", "experiment_name": "my experiment"},
        ("experiment_name 'my experiment' is not a valid", "letters", "'_' and '-'"),
    ),
    (
        "experiment_non_ascii",
        {"published_pipeline_id": "{train}", "experiment_name": "expérience"},
        ("experiment_name 'expérience' is not a valid", "a-z, A-Z"),
    ),
    (
        "experiment_leading_dash",
        {"published_pipeline_id": "{train}", "experiment_name": "-nightly"},
        ("is not a valid experiment name", "starting with a letter or a digit"),
    ),
    (
        "experiment_too_long",
        {"published_pipeline_id": "{train}", "experiment_name": "e" * 257},
        ("is not a valid experiment name", "1-256 characters"),
    ),
    (
        "experiment_path",
        {"published_pipeline_id": "{train}", "experiment_name": "a/../b"},
        ("experiment_name 'a/../b' is not a valid",),
    ),
]


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return values.get(value[1:-1], value)
    if isinstance(value, str):
        return value.format(**values) if "{" in value else value
    return value


@pytest.mark.parametrize(("row", "arguments", "fragments"), ROWS, ids=[r[0] for r in ROWS])
def test_bad_input_is_refused_before_anything_is_submitted(
    row: str,
    arguments: dict[str, Any],
    fragments: tuple[str, ...],
    admin: EmulatorAdmin,
    published: dict[str, Any],
    disabled: dict[str, str],
    decoy: ListeningSocket,
) -> None:
    values = {
        "train": published["train"],
        "endpoint_name": published["endpoint"].name,
        "unknown": str(uuid.uuid4()),
        "disabled_pipeline": disabled["pipeline"],
        "disabled_endpoint": disabled["endpoint"],
        "other_host_url": _other_host_url(published, decoy.port),
    }
    kwargs = {"experiment_name": "reliability-bad-input"}
    kwargs.update({key: _fill(value, values) for key, value in arguments.items()})
    runs_before = admin.total_runs()
    submits_before = admin.submit_requests()

    with pytest.raises(AzureMLPipelinesError) as info:
        operator = AzureMLSubmitPipelineRunOperator(task_id="submit", **kwargs)
        operator.execute({"ti": RecordingTaskInstance(run_id=f"bad_{row}")})

    message = str(info.value)
    for fragment in fragments:
        assert _fill(fragment, values) in message, message
    assert admin.total_runs() == runs_before
    # Not even a refused submission: the request itself never left the operator.
    assert admin.submit_requests() == submits_before
    assert decoy.received == []
