"""The command line, the TLS material, and the fault-injection admin route."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from emulator_client import ApiClient

from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess, EmulatorStartError

FLAGS = (
    "--port",
    "--state-dir",
    "--workspace",
    "--host",
    "--advertise-url",
    "--token-lifetime",
    "--max-processes",
    "--lro-seconds",
    "--log-level",
)


def test_help_explains_every_flag() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_mlpipelines.emulator", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    for flag in FLAGS:
        assert flag in result.stdout
    assert "manifest.json" in result.stdout


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "mlpipelines-emulator"
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "--token-lifetime" in result.stdout


def test_invalid_workspace_fails_start_with_the_reason(tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("pipelines:\n  p:\n    steps: []\n")
    process = EmulatorProcess(tmp_path / "state", workspace=spec)
    with pytest.raises(EmulatorStartError, match="non-empty list of steps"):
        process.start()
    assert not process.is_running()


def test_ca_and_server_certificate_pass_strict_verification(emulator: EmulatorProcess) -> None:
    ca = x509.load_pem_x509_certificate(Path(emulator.ca_bundle).read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    ca.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    server = x509.load_pem_x509_certificate((emulator.state_dir / "server.pem").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]

    context = ssl.create_default_context(cafile=emulator.ca_bundle)
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    for host in ("127.0.0.1", "localhost"):
        with (
            socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_port_zero_picks_a_free_port(emulator: EmulatorProcess) -> None:
    assert emulator.port > 0
    assert emulator.base_url == f"https://127.0.0.1:{emulator.port}"


def test_fault_injection_answers_with_contract_errors(
    api: ApiClient, published: dict[str, Any]
) -> None:
    marker = str(uuid.uuid4())
    admin = f"{api.base_url}/_emulator/admin/faults"

    def configure(**settings: Any) -> dict[str, Any]:
        response = api.session.post(
            admin, json=settings, headers=api.admin_headers, verify=api.ca, timeout=30
        )
        assert response.status_code == 200, response.text
        return response.json()

    try:
        configure(fail_next=2, fail_status=503, path_contains=marker)
        for _ in range(2):
            failed = api.request(routes.RUN_GET, run_id=marker)
            assert failed.status_code == 503
            assert failed.json()["Error"]["Code"] == "ServiceUnavailable"
        assert api.request(routes.RUN_GET, run_id=marker).status_code == 404
        configure(throttle_rate=1.0, retry_after_seconds=7)
        throttled = api.request(routes.RUN_GET, run_id=marker)
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "7"
        other = api.request(routes.PIPELINE_GET, pipeline_id=published["train"]["Id"])
        assert other.status_code == 200
        bad = api.session.post(
            admin, json={"error_rate": 2}, headers=api.admin_headers, verify=api.ca, timeout=30
        )
        assert bad.status_code == 400
    finally:
        configure(
            throttle_rate=0.0, error_rate=0.0, fail_next=0, path_contains="", latency_seconds=0.0
        )
    assert api.get("/_emulator/stats").json()["faults_injected"] >= 3
