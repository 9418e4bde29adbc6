"""The admin key of the emulator's own routes (``/_emulator/...``) and the modes of its secrets.

Every ``/_emulator/`` route of the application's route table is tried without the key, with a
wrong one and with the right one, on loopback and on this machine's network address (the
emulator listens on every address, as in the cluster); a route added later is tried too.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from emulator_client import ApiClient

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.emulator.admin_access import (
    ADMIN_HEADER,
    ADMIN_KEY_FILE,
    EMULATOR_PREFIX,
)
from airflow_provider_mlpipelines.emulator.app import (
    ARM_BUDGET_PATH,
    EMULATOR_ROUTES,
    FAULTS_PATH,
    RUNS_QUERY_PATH,
    SERVICE_ROUTES,
    TOKENS_PATH,
)
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess, admin_headers
from airflow_provider_mlpipelines.emulator.v2.handlers import V2_ROUTES
from tests.conftest import EmulatorFactory

#: (method, path template) of every route the application registers under ``/_emulator/``.
OWN_ROUTES = sorted(
    {
        (method, path)
        for method, path in (
            *((route.method, route.template) for route, _ in SERVICE_ROUTES),
            *((method, path) for method, path, _, _ in (*EMULATOR_ROUTES, *V2_ROUTES)),
        )
        if path.startswith(EMULATOR_PREFIX)
    }
)

#: A write that changes nothing, for each writing route, made from what its GET answers. A new
#: writing route fails the test until it has one here.
NO_OP_BODIES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    FAULTS_PATH: lambda now: {},
    TOKENS_PATH: lambda now: {"lifetime_seconds": now["lifetime_seconds"]},
    RUNS_QUERY_PATH: lambda now: {},
    ARM_BUDGET_PATH: lambda now: {k: v for k, v in now.items() if k != "remaining"},
}

SEED_EXPERIMENT = "emulator-seed"


def network_address() -> str:
    """This machine's IPv4 address on its default route (the UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("10.255.255.255", 1))
        address = str(sock.getsockname()[0])
    if address.startswith("127."):
        candidates = {
            str(info[4][0])
            for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        }
        address = next((a for a in sorted(candidates) if not a.startswith("127.")), address)
    assert not address.startswith("127."), (
        "this machine has no IPv4 address but loopback: the test needs one to reach the "
        "emulator from outside loopback"
    )
    return address


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """An emulator on every address, its certificate naming this machine's address too."""
    address = network_address()
    with EmulatorProcess(
        tmp_path_factory.mktemp("exposed") / "state",
        extra_args=["--host", "0.0.0.0", "--advertise-url", f"https://{address}"],
    ) as process:
        yield process


@pytest.fixture(scope="module")
def api(exposed: EmulatorProcess) -> Iterator[ApiClient]:
    """A client of its service routes (bearer tokens)."""
    with contextlib.closing(ApiClient(exposed.manifest)) as client:
        yield client


@pytest.fixture(scope="module")
def secrets_of(exposed: EmulatorProcess, api: ApiClient) -> list[str]:
    """Every secret the emulator holds: client secret, identity header, admin key, a token."""
    token = api.token()
    manifest = exposed.manifest
    return [
        manifest["client_secret"],
        manifest["managed_identity"]["header"],
        exposed.admin_headers()[ADMIN_HEADER],
        token,
    ]


@pytest.fixture(scope="module")
def step_run_id(exposed: EmulatorProcess, api: ApiClient) -> str:
    """A step run of the seed run of ``train`` (real steps, with log files)."""
    children = api.ok(
        routes.HISTORY_RUN_CHILDREN,
        experiment_name=SEED_EXPERIMENT,
        run_id=exposed.manifest["pipeline_runs"]["train"],
    )
    return str(children["value"][0]["runId"])


def bases(emulator: EmulatorProcess) -> dict[str, str]:
    port = emulator.port
    return {"loopback": f"https://127.0.0.1:{port}", "network": emulator.base_url}


def concrete(template: str, step_run_id: str) -> str:
    values = {"step_run_id": step_run_id, "kind": "STDOUT"}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def call(
    emulator: EmulatorProcess,
    base: str,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> requests.Response:
    return requests.request(
        method,
        base + path,
        headers=headers,
        verify=emulator.ca_bundle,
        timeout=30,
        **kwargs,
    )


def test_the_route_table_has_the_routes_this_file_names() -> None:
    # Guards the derived list: an empty one would make every test below pass vacuously.
    paths = {path for _, path in OWN_ROUTES}
    assert {"/_emulator/manifest", "/_emulator/stats", FAULTS_PATH, TOKENS_PATH} <= paths
    assert all(path.startswith(EMULATOR_PREFIX) for path in paths)


@pytest.mark.parametrize("where", ["loopback", "network"])
@pytest.mark.parametrize(("method", "template"), OWN_ROUTES)
def test_each_own_route_needs_the_admin_key(
    exposed: EmulatorProcess,
    secrets_of: list[str],
    step_run_id: str,
    where: str,
    method: str,
    template: str,
) -> None:
    base = bases(exposed)[where]
    path = concrete(template, step_run_id)
    before = exposed.stats()["responses"]

    missing = call(exposed, base, method, path, json={})
    assert missing.status_code == 401, missing.text
    wrong = call(exposed, base, method, path, {ADMIN_HEADER: "not-the-key"}, json={})
    assert wrong.status_code == 403, wrong.text
    key_file = str(exposed.state_dir / ADMIN_KEY_FILE)
    for refused in (missing, wrong):
        message = refused.json()["Error"]["Message"]
        assert ADMIN_HEADER in message and key_file in message
        assert not [secret for secret in secrets_of if secret in refused.text]
    counted = exposed.stats()["responses"]
    # Both refusals reached this emulator (the counters), not some other listener.
    assert int(counted.get("401", 0)) - int(before.get("401", 0)) == 1
    assert int(counted.get("403", 0)) - int(before.get("403", 0)) == 1

    headers = exposed.admin_headers()
    if method == "GET":
        works = call(exposed, base, method, path, headers)
    else:
        if template not in NO_OP_BODIES:
            pytest.fail(f"{method} {template} is new: give it a no-op body in NO_OP_BODIES")
        now = call(exposed, base, "GET", path, headers).json()
        works = call(exposed, base, method, path, headers, json=NO_OP_BODIES[template](now))
    assert works.status_code == 200, works.text
    if template == "/_emulator/manifest":
        assert works.json()["client_secret"] == exposed.manifest["client_secret"]


def test_a_bearer_token_does_not_open_the_own_routes(
    exposed: EmulatorProcess, secrets_of: list[str]
) -> None:
    token = secrets_of[-1]
    for where, base in bases(exposed).items():
        answer = call(
            exposed, base, "GET", "/_emulator/manifest", {"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 401, (where, answer.text)


def test_log_urls_of_run_details_open_their_own_file_only(
    exposed: EmulatorProcess, api: ApiClient, step_run_id: str
) -> None:
    details = api.ok(
        routes.HISTORY_RUN_DETAILS, experiment_name=SEED_EXPERIMENT, run_id=step_run_id
    )
    urls = details["logFiles"]
    assert len(urls) == 2
    for url in urls.values():
        # Signed like a SAS URL: it opens without the header, as a client following it does.
        answer = requests.get(url, verify=exposed.ca_bundle, timeout=30)
        assert answer.status_code == 200, answer.text
        unsigned, signature = url.split("?sig=")
        assert requests.get(unsigned, verify=exposed.ca_bundle, timeout=30).status_code == 401
        other = "STDERR" if unsigned.endswith("STDOUT") else "STDOUT"
        elsewhere = unsigned.rsplit("/", 1)[0] + f"/{other}?sig={signature}"
        assert requests.get(elsewhere, verify=exposed.ca_bundle, timeout=30).status_code == 401
        forged = f"{unsigned}?sig={'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
        assert requests.get(forged, verify=exposed.ca_bundle, timeout=30).status_code == 401


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_emulator_makes_its_state_dir_and_secrets_the_owners_only(tmp_path: Path) -> None:
    # Started directly (not through EmulatorProcess, which makes the folder itself), so that
    # the emulator creates the state dir.
    state_dir = tmp_path / "fresh" / "state"
    log = (tmp_path / "emulator.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_mlpipelines.emulator",
            "--state-dir",
            str(state_dir),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        manifest_file = state_dir / "manifest.json"
        deadline = time.monotonic() + 60
        while not manifest_file.exists():
            assert process.poll() is None, (tmp_path / "emulator.log").read_text()
            assert time.monotonic() < deadline, "the emulator wrote no manifest in 60 s"
            time.sleep(0.1)
        assert mode(state_dir) == 0o700
        secret_files = [
            ADMIN_KEY_FILE,
            "manifest.json",
            "state.sqlite",
            "state.sqlite-wal",
            "ca-key.pem",
            "server-key.pem",
        ]
        assert {name: oct(mode(state_dir / name)) for name in secret_files} == {
            name: "0o600" for name in secret_files
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
        log.close()


def test_the_admin_key_is_kept_on_restart_and_tightened_again(
    emulator_factory: EmulatorFactory,
) -> None:
    emulator = emulator_factory()
    key_file = emulator.state_dir / ADMIN_KEY_FILE
    assert mode(emulator.state_dir) == 0o700
    headers = admin_headers(emulator.state_dir)
    assert len(headers[ADMIN_HEADER]) >= 40
    emulator.stop()
    key_file.chmod(0o644)
    emulator.start()
    assert mode(key_file) == 0o600
    assert admin_headers(emulator.state_dir) == headers
    answer = call(emulator, emulator.base_url, "GET", "/_emulator/stats", headers)
    assert answer.status_code == 200


def test_another_state_dirs_key_is_refused(emulator_factory: EmulatorFactory) -> None:
    first, second = emulator_factory(), emulator_factory()
    assert first.admin_headers() != second.admin_headers()
    answer = call(second, second.base_url, "GET", "/_emulator/stats", first.admin_headers())
    assert answer.status_code == 403


def test_admin_headers_of_a_state_dir_without_an_emulator_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=re.escape(str(tmp_path / ADMIN_KEY_FILE))):
        admin_headers(tmp_path)
