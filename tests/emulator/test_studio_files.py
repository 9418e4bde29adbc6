"""The studio serves the datastores' files read-only and nothing outside them.

A secret file is planted in the state dir, next to (not inside) the datastore; every way of
reaching it through ``/studio/files/...`` must be refused without its content in the answer.
Requests are sent raw (``http.client``), so that no client library tidies the path first.
"""

from __future__ import annotations

import http.client
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess

pytestmark = pytest.mark.timeout(120)

SECRET = f"secret-{uuid.uuid4().hex}"


class Studio:
    """Raw GETs of one emulator's studio, and its datastore folder."""

    def __init__(self, emulator: EmulatorProcess) -> None:
        self.emulator = emulator
        self.datastore = Path(emulator.manifest["datastores"]["workspaceblobstore"])
        parts = urlsplit(emulator.base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 443
        self.tls = ssl.create_default_context(cafile=emulator.ca_bundle)

    def get(self, raw_path: str) -> tuple[int, dict[str, str], str]:
        """GET ``raw_path`` exactly as written (no normalisation, no re-encoding)."""
        connection = http.client.HTTPSConnection(self.host, self.port, context=self.tls, timeout=30)
        try:
            connection.putrequest("GET", raw_path, skip_accept_encoding=True)
            connection.endheaders()
            response = connection.getresponse()
            body = response.read().decode("utf-8", "replace")
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        finally:
            connection.close()


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Studio]:
    process = EmulatorProcess(tmp_path_factory.mktemp("emulator-files"))
    try:
        process.start()
        made = Studio(process)
        outside = made.datastore.parent.parent / "outside"
        outside.mkdir(exist_ok=True)
        (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
        (made.datastore.parent / "secret.txt").write_text(SECRET, encoding="utf-8")
        links = made.datastore / "links"
        links.mkdir(exist_ok=True)
        (links / "to-secret.txt").symlink_to(outside / "secret.txt")
        (links / "to-outside").symlink_to(outside, target_is_directory=True)
        (links / "inside.csv").symlink_to(made.datastore / "housing" / "train.csv")
        (made.datastore / "page.html").write_text("<script>alert(1)</script>", encoding="utf-8")
        yield made
    finally:
        process.stop()


def test_a_datastore_file_is_served_read_only_as_text(studio: Studio) -> None:
    status, headers, body = studio.get("/studio/files/workspaceblobstore/housing/train.csv")
    assert status == 200
    assert body == (studio.datastore / "housing" / "train.csv").read_bytes().decode("utf-8")
    assert headers["content-type"].startswith("text/plain")
    assert headers["x-content-type-options"] == "nosniff"


def test_a_folder_is_listed_with_links_to_its_files(studio: Studio) -> None:
    status, _, body = studio.get("/studio/files/workspaceblobstore/housing")
    assert status == 200
    assert 'href="/studio/files/workspaceblobstore/housing/train.csv"' in body


def test_an_html_file_of_a_step_is_not_served_as_html(studio: Studio) -> None:
    status, headers, body = studio.get("/studio/files/workspaceblobstore/page.html")
    assert status == 200
    assert body == "<script>alert(1)</script>"
    assert not headers["content-type"].startswith("text/html")
    assert "sandbox" in headers["content-security-policy"]


@pytest.mark.parametrize(
    "raw_path",
    [
        "/studio/files/workspaceblobstore/../secret.txt",
        "/studio/files/workspaceblobstore/housing/../../secret.txt",
        "/studio/files/workspaceblobstore/%2e%2e/secret.txt",
        "/studio/files/workspaceblobstore/%2E%2E/%2E%2E/outside/secret.txt",
        "/studio/files/workspaceblobstore/housing%2f..%2f..%2fsecret.txt",
        "/studio/files/workspaceblobstore/%252e%252e/secret.txt",
        "/studio/files/workspaceblobstore/..%5csecret.txt",
    ],
)
def test_a_path_climbing_out_of_the_datastore_is_refused(studio: Studio, raw_path: str) -> None:
    status, _, body = studio.get(raw_path)
    assert status in (400, 404), (raw_path, status)
    assert SECRET not in body


@pytest.mark.parametrize(
    "raw_path",
    [
        "/studio/files/workspaceblobstore/%2e%2e/secret.txt",
        "/studio/files/workspaceblobstore/%252e%252e/secret.txt",
        "/studio/files/workspaceblobstore/..%5csecret.txt",
    ],
)
def test_an_encoded_climb_reaches_the_studio_and_is_refused_by_name(
    studio: Studio, raw_path: str
) -> None:
    status, _, body = studio.get(raw_path)
    assert status == 400
    assert "must not contain" in body or "separators" in body


def test_an_absolute_path_is_refused(studio: Studio) -> None:
    secret = studio.datastore.parent / "secret.txt"
    for raw_path in (
        f"/studio/files/workspaceblobstore/{secret}",
        f"/studio/files/workspaceblobstore/%2F{str(secret).lstrip('/')}",
    ):
        status, _, body = studio.get(raw_path)
        assert status == 400, raw_path
        assert "not absolute" in body
        assert SECRET not in body


def test_a_symlink_inside_the_datastore_pointing_outside_is_refused(studio: Studio) -> None:
    for raw_path in (
        "/studio/files/workspaceblobstore/links/to-secret.txt",
        "/studio/files/workspaceblobstore/links/to-outside/secret.txt",
        "/studio/files/workspaceblobstore/links/to-outside",
    ):
        status, _, body = studio.get(raw_path)
        assert status == 400, raw_path
        assert "outside datastore" in body
        assert SECRET not in body
    # The listing of the folder leaves the escaping links out, keeps the one inside.
    status, _, listing = studio.get("/studio/files/workspaceblobstore/links")
    assert status == 200
    assert "inside.csv" in listing
    assert "to-secret.txt" not in listing and "to-outside" not in listing


def test_a_symlink_staying_inside_the_datastore_is_served(studio: Studio) -> None:
    status, _, body = studio.get("/studio/files/workspaceblobstore/links/inside.csv")
    assert status == 200
    assert body == (studio.datastore / "housing" / "train.csv").read_bytes().decode("utf-8")


def test_an_unknown_datastore_is_a_404_naming_the_known_ones(studio: Studio) -> None:
    status, _, body = studio.get("/studio/files/nosuchstore/x.csv")
    assert status == 404
    assert "nosuchstore" in body and "workspaceblobstore" in body
