"""Jinja2 rendering of step commands, outputs and simulated-step settings.

Undefined names are errors (``StrictUndefined``) both when a spec is loaded (checked
statically) and when a step is rendered, so a typo never turns into an empty argument.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta

#: Names every step template may use besides the pipeline's own parameters and data inputs.
BUILTIN_NAMES: frozenset[str] = frozenset(
    {
        "python",
        "run_id",
        "step_run_id",
        "node_id",
        "step_name",
        "experiment_name",
        "pipeline_name",
        "workdir",
        "spec_dir",
        "datastores",
        "outputs",
        "params",
    }
)

_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)


class TemplateError(ValueError):
    """A template is malformed or uses a name it may not use."""


@lru_cache(maxsize=4096)
def _compile(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def undeclared_names(source: str) -> set[str]:
    """The variables a template reads.

    :param source: the template text.
    :raises TemplateError: when the template does not parse.
    """
    try:
        return set(meta.find_undeclared_variables(_ENV.parse(source)))
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template {source!r} does not parse: {exc}") from None


def check_template(source: str, allowed: Iterable[str], where: str) -> None:
    """Fail when ``source`` reads a name outside ``allowed``.

    :param source: the template text.
    :param allowed: names the template may read.
    :param where: what the template belongs to, for the message.
    :raises TemplateError: naming the unknown variables.
    """
    try:
        names = undeclared_names(source)
    except TemplateError as exc:
        raise TemplateError(f"{where}: {exc}") from None
    unknown = sorted(names - set(allowed))
    if unknown:
        raise TemplateError(
            f"{where}: template {source!r} uses undefined name(s) {', '.join(unknown)}"
        )


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render ``source`` with ``context``.

    :param source: the template text.
    :param context: the values of the names it reads.
    :raises TemplateError: when a name is undefined or rendering fails.
    """
    try:
        return _compile(source).render(**context)
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template {source!r}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template {source!r}: {exc}") from None
