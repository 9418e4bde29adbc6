"""The emulator on a non-loopback address for clients on other machines (``--host``,
``--advertise-url``): the manifest and the connection carry the advertised URL, and the
certificate names its host, so a client that verifies TLS with the CA bundle reaches it."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from cryptography import x509

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess
from tests.conftest import EmulatorFactory


def primary_address() -> str:
    """This machine's address on its default route (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("10.255.255.255", 1))
        return str(sock.getsockname()[0])


def test_advertised_url_is_served_and_named_by_the_certificate(
    emulator_factory: EmulatorFactory,
) -> None:
    address = primary_address()
    if address.startswith("127."):
        pytest.skip("this machine has no address but loopback")
    emulator: EmulatorProcess = emulator_factory(
        extra_args=["--host", "0.0.0.0", "--advertise-url", f"https://{address}"]
    )
    base_url = emulator.base_url
    assert base_url.startswith(f"https://{address}:")
    assert emulator.manifest["airflow_conn"]["host"] == base_url
    # Verified TLS to the advertised address, not to loopback.
    answer = requests.get(
        f"{base_url}/_emulator/manifest",
        headers=emulator.admin_headers(),
        verify=emulator.ca_bundle,
        timeout=30,
    )
    assert answer.ok and answer.json()["base_url"] == base_url
    cert = x509.load_pem_x509_certificate(
        ssl.get_server_certificate((address, int(base_url.rsplit(":", 1)[1]))).encode()
    )
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert address in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]


def test_advertise_url_must_be_https(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_provider_mlpipelines.emulator",
            "--state-dir",
            str(tmp_path),
            "--advertise-url",
            "http://emulator.internal",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--advertise-url must be https://HOST[:PORT], not 'http://emulator.internal'" in (
        result.stderr
    )
