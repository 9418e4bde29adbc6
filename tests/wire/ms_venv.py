"""The separate virtual environments holding Microsoft's own clients, for the wire tests.

Microsoft's clients pin dependencies that clash with Airflow's (``azureml-core`` pins old ones),
so they never go into the Airflow venv: each lives in its own venv at the repository root,
pinned by its constraints file. Shared by ``test_ms_client_v1.py`` (:data:`MS_V1`, the SDK v1
generated REST client) and ``test_ms_client_v2.py`` (:data:`MS_V2`, ``azure-ai-ml``).

The first use creates the venv; a stamp file named after a hash of the constraints and the
requirements lets later runs reuse it (as ``scripts/setup-env.sh`` does for the main venv), and
a changed constraints file reinstalls. Nothing is skipped: a failed install raises with pip's
output, so the test fails with it.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The interpreter the pinned wheels were resolved for.
PYTHON = "python3.11"


@dataclass(frozen=True)
class MsClientVenv:
    """One Microsoft client's venv.

    :param folder: the venv's folder name at the repository root.
    :param constraints: the constraints file name in ``constraints/``.
    :param requirements: what ``pip install`` gets (pinned further by the constraints).
    """

    folder: str
    constraints: str
    requirements: tuple[str, ...]

    @property
    def path(self) -> Path:
        """The venv's folder."""
        return ROOT / self.folder

    @property
    def constraints_file(self) -> Path:
        """The constraints file."""
        return ROOT / "constraints" / self.constraints

    @property
    def python(self) -> Path:
        """The venv's interpreter."""
        return self.path / "bin" / "python"


MS_V1 = MsClientVenv(".venv-ms-v1", "ms-client-v1.txt", ("azureml-pipeline-core==1.62.0",))
MS_V2 = MsClientVenv(".venv-ms-v2", "ms-client-v2.txt", ("azure-ai-ml==1.35.2", "azure-identity"))


class MsVenvError(RuntimeError):
    """The venv could not be created or installed; the message holds the command's output."""


def _stamp(venv: MsClientVenv) -> Path:
    content = venv.constraints_file.read_bytes() + " ".join(venv.requirements).encode()
    return venv.path / f".installed-{hashlib.sha256(content).hexdigest()[:16]}"


def _run(argv: list[str], timeout: float) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MsVenvError(f"{' '.join(argv)} did not finish in {timeout:g} s") from exc
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-6000:]
        raise MsVenvError(f"{' '.join(argv)} exited with {done.returncode}:\n{output}")


def ensure_ms_python(venv: MsClientVenv, timeout: float = 1800.0) -> Path:
    """Create and install ``venv`` unless it is already installed; return its python.

    Concurrent callers (parallel test sessions) wait on a file lock instead of installing
    twice into the same folder.

    :param venv: which client's venv.
    :param timeout: seconds allowed for ``pip install``.
    :raises MsVenvError: no ``python3.11``, or venv creation or ``pip install`` failed (with
        pip's output).
    """
    venv.path.mkdir(exist_ok=True)
    with (venv.path / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = _stamp(venv)
        if stamp.exists() and venv.python.exists():
            return venv.python
        if not venv.python.exists():
            interpreter = shutil.which(PYTHON)
            if interpreter is None:
                raise MsVenvError(
                    f"{PYTHON} is not on PATH; it is needed to create {venv.path} "
                    f"(the pins in {venv.constraints} are for Python 3.11)"
                )
            _run([interpreter, "-m", "venv", str(venv.path)], timeout=300)
        _run(
            [
                str(venv.python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-c",
                str(venv.constraints_file),
                *venv.requirements,
            ],
            timeout=timeout,
        )
        for old in venv.path.glob(".installed-*"):
            old.unlink()
        stamp.touch()
    return venv.python
