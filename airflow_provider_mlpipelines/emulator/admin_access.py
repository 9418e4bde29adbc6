"""The admin key: the credential of the emulator's own routes (``/_emulator/...``).

The manifest (which holds the client secret), the counters, the switches of faults, tokens,
``runs:query`` and the ARM budget, the issued tokens and the step log files all answer only a
request carrying the header ``X-Emulator-Admin-Key`` with the value of ``STATE_DIR/admin-key``,
whatever address the emulator listens on: one rule, no loopback exception to reason about when
``--host 0.0.0.0`` puts the emulator on a network. The key is made at the first start
(``secrets.token_urlsafe``, mode 0600) and kept with the state dir, so clients of a restarted
emulator keep working. The header's name cannot be taken for the service's
``Authorization: Bearer`` tokens, which never open these routes.

Step log files are also reached, as the service's SAS URLs of its blob storage are, through the
URLs the run details list: each carries ``sig``, an HMAC of its path under the admin key, which
opens that one file only.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

from airflow_provider_mlpipelines.emulator.errors import EmulatorError

#: The request header that carries the admin key.
ADMIN_HEADER = "X-Emulator-Admin-Key"
#: The file of the state dir holding the admin key.
ADMIN_KEY_FILE = "admin-key"
#: Path prefix of the emulator's own routes.
EMULATOR_PREFIX = "/_emulator/"
#: Path prefix of the step log files, also open to a signed URL.
LOGS_PREFIX = "/_emulator/logs/"
#: Query parameter of a log file URL's signature (as in an Azure storage SAS URL).
SIGNATURE_PARAM = "sig"


class AdminKeyError(RuntimeError):
    """The admin key file is missing or empty; the message names the file (never a value)."""


@dataclass(frozen=True)
class AdminKey:
    """The admin key and the file it was read from.

    :param value: the key.
    :param path: the file holding it.
    """

    value: str = field(repr=False)
    path: Path

    def matches(self, given: str) -> bool:
        """Whether ``given`` is the key, in time independent of where they differ.

        :param given: the header's value.
        """
        return hmac.compare_digest(given.encode(errors="backslashreplace"), self.value.encode())

    def sign(self, path: str) -> str:
        """The signature that opens ``path`` (a log file's) without the header.

        :param path: the URL path.
        """
        digest = hmac.new(self.value.encode(), f"log:{path}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def signed(self, path: str, signature: str | None) -> bool:
        """Whether ``signature`` is the one of ``path``.

        :param path: the URL path.
        :param signature: the ``sig`` query parameter, if any.
        """
        return signature is not None and hmac.compare_digest(
            signature.encode(errors="backslashreplace"), self.sign(path).encode()
        )


#: Where the application keeps its admin key.
ADMIN_KEY: web.AppKey[AdminKey] = web.AppKey("emulator_admin_key", AdminKey)


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) readable by the owner only, if it is missing.

    A folder that exists keeps its mode: it is the user's to choose.

    :param path: the folder, e.g. the state dir.
    """
    # ``mode`` applies to the last folder only; parents get the usual mode.
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700, parents=True)


def ensure_admin_key(state_dir: Path) -> AdminKey:
    """The state dir's admin key, made (mode 0600) when the state dir has none.

    :param state_dir: the state dir.
    :raises AdminKeyError: the file exists but is empty.
    """
    path = state_dir / ADMIN_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # A copy restored loosely (a backup, a tar without modes) is tightened again.
        os.chmod(path, 0o600)
        return AdminKey(read_admin_key(state_dir), path)
    value = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return AdminKey(value, path)


def read_admin_key(state_dir: str | os.PathLike[str]) -> str:
    """The admin key of an emulator's state dir.

    :param state_dir: the state dir (the manifest's ``state_dir``).
    :raises AdminKeyError: no emulator made a key there yet, or its file is empty.
    """
    path = Path(state_dir) / ADMIN_KEY_FILE
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise AdminKeyError(
            f"No admin key at {path}: an emulator makes it when it starts with --state-dir "
            f"{Path(state_dir)}; pass that state dir"
        ) from None
    if not value:
        raise AdminKeyError(f"The admin key file {path} is empty: delete it and restart")
    return value


def admin_headers(state_dir: str | os.PathLike[str]) -> dict[str, str]:
    """The headers that open an emulator's own routes (``/_emulator/...``).

    :param state_dir: the emulator's state dir (the manifest's ``state_dir``).
    :raises AdminKeyError: the state dir has no admin key.
    """
    return {ADMIN_HEADER: read_admin_key(state_dir)}


@web.middleware
async def require_admin_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse the emulator's own routes without the admin key: 401 missing, 403 wrong.

    :param request: the request.
    :param handler: the rest of the chain.
    """
    if not request.path.startswith(EMULATOR_PREFIX):
        return await handler(request)
    key = request.app[ADMIN_KEY]
    if request.path.startswith(LOGS_PREFIX) and key.signed(
        request.path, request.query.get(SIGNATURE_PARAM)
    ):
        return await handler(request)
    given = request.headers.get(ADMIN_HEADER)
    if given is None:
        raise EmulatorError(
            401,
            "Unauthorized",
            f"The emulator's own routes ({EMULATOR_PREFIX}...) need the header {ADMIN_HEADER} "
            f"with the value held in the file {key.path} (a bearer token does not open them)",
            ADMIN_HEADER,
        )
    if not key.matches(given):
        raise EmulatorError(
            403,
            "Forbidden",
            f"The header {ADMIN_HEADER} does not hold the admin key: send the value held in "
            f"the file {key.path}",
            ADMIN_HEADER,
        )
    return await handler(request)
