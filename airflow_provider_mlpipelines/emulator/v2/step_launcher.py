"""Runs one command step of a user's pipeline component: ``python -m ...step_launcher``.

The runner starts it like any v1 step (own process group, logs, cancel). It reads the step
(:mod:`.graph` wrote it into ``AZUREML_EMULATOR_STEP``) and the values the runner rendered into
``AZUREML_EMULATOR_IN_<input>`` / ``AZUREML_EMULATOR_OUT_<output>``, fills the command's
placeholders (each value quoted for the shell), keeps a ``$[[ ... ]]`` block only when every
input it names has a value, creates the output folders, and replaces itself with
``/bin/sh -c <command>`` in the code folder. ``python`` in the command is the emulator's own
interpreter: the environment is not built.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any

STEP_ENV = "AZUREML_EMULATOR_STEP"
CODE_ENV = "AZUREML_EMULATOR_CODE_DIR"
INPUT_ENV = "AZUREML_EMULATOR_IN_"
OUTPUT_ENV = "AZUREML_EMULATOR_OUT_"
_PLACEHOLDER = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_BLOCK = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)


def _value(kind: str, name: str, step: dict[str, Any]) -> str | None:
    """A placeholder's value; ``None`` for an optional input given no value."""
    if kind == "outputs":
        return os.environ[OUTPUT_ENV + name]
    value = os.environ.get(INPUT_ENV + name)
    if value is None or (value == "" and step["inputs"][name]["optional"]):
        return None
    return value


def build_command(step: dict[str, Any]) -> str:
    """The shell command of ``step`` with every placeholder filled.

    :param step: the step as :mod:`.graph` describes it.
    :raises KeyError: a required input has no value (the graph checks this at registration).
    """

    def fill(match: re.Match[str]) -> str:
        value = _value(match[1], match[2], step)
        if value is None:
            raise KeyError(match[2])
        return shlex.quote(value)

    def block(match: re.Match[str]) -> str:
        try:
            return _PLACEHOLDER.sub(fill, match[1])
        except KeyError:
            return ""

    return _PLACEHOLDER.sub(fill, _BLOCK.sub(block, step["command"]))


def _python_shim(folder: Path) -> Path:
    """A folder whose ``python``/``python3`` are the emulator's interpreter (put first on PATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("python", "python3"):
        link = folder / name
        if not link.exists():
            link.symlink_to(sys.executable)
    return folder


def main() -> None:
    step = json.loads(os.environ[STEP_ENV])
    for name, kind in step["outputs"].items():
        path = Path(os.environ[OUTPUT_ENV + name])
        (path if kind == "uri_folder" else path.parent).mkdir(parents=True, exist_ok=True)
    try:
        command = build_command(step)
    except KeyError as exc:
        sys.exit(f"Step '{step['step']}': required input {exc} has no value")
    shim = _python_shim(Path.cwd() / ".emulator-bin")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZUREML_EMULATOR_")}
    env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', '')}"
    code = os.environ.get(CODE_ENV)
    if code:
        if not Path(code).is_dir():
            sys.exit(f"Step '{step['step']}': code folder {code} does not exist")
        os.chdir(code)
    print(f"[emulator] {step['component']} in {os.getcwd()}: {command}", flush=True)
    os.execve("/bin/sh", ["/bin/sh", "-c", command], env)


if __name__ == "__main__":
    main()
