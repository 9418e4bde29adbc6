"""What the sync and the async hook share: identity, connection settings, form, studio URLs."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from airflow_provider_mlpipelines._compat import BaseHook
from airflow_provider_mlpipelines.api import routes
from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.exceptions import AzureMLInvalidInputError, format_choices
from airflow_provider_mlpipelines.get_provider_info import (
    CONNECTION_EXTRA_FIELDS,
    CONNECTION_TYPE,
    DEFAULT_CONN_ID,
)
from airflow_provider_mlpipelines.hooks._connection import (
    ConnectionSettings,
    settings_from_connection,
)

log = logging.getLogger(__name__)


class AzureMLPipelinesHookBase(BaseHook):
    """Connection handling shared by :class:`AzureMLPipelinesHook` and its async sibling.

    :param azure_ml_pipelines_conn_id: the Airflow connection id.
    :param max_retries: overrides the connection's ``max_retries``.
    :param retry_backoff: overrides the connection's ``retry_backoff_seconds``.
    :param request_timeout: overrides the connection's ``request_timeout_seconds``.
    :param deadline: epoch seconds by which the caller must be done (a task's
        ``execution_timeout``): a ``Retry-After`` is waited out in full when it ends before,
        and fails the call at once, saying so, when it would end after it.
    """

    conn_name_attr = "azure_ml_pipelines_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONNECTION_TYPE
    hook_name = "Azure ML Pipelines"

    def __init__(
        self,
        azure_ml_pipelines_conn_id: str = default_conn_name,
        *,
        max_retries: int | None = None,
        retry_backoff: float | None = None,
        request_timeout: float | None = None,
        deadline: float | None = None,
    ) -> None:
        super().__init__()
        self.azure_ml_pipelines_conn_id = azure_ml_pipelines_conn_id
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.request_timeout = request_timeout
        self.deadline = deadline

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(azure_ml_pipelines_conn_id={self.azure_ml_pipelines_conn_id!r})"
        )

    # ---------------------------------------------------------------------------------------
    # Settings
    # ---------------------------------------------------------------------------------------
    def _settings_from(self, connection: Any) -> ConnectionSettings:
        """Validated settings of ``connection`` with this hook's overrides applied."""
        return settings_from_connection(connection).with_overrides(
            max_retries=self.max_retries,
            retry_backoff=self.retry_backoff,
            request_timeout=self.request_timeout,
        )

    def _load_settings_sync(self) -> ConnectionSettings:
        return self._settings_from(self.get_connection(self.azure_ml_pipelines_conn_id))

    @staticmethod
    def _studio_url(settings: ConnectionSettings, kind: Any, object_id: str) -> str:
        return routes.studio_url(
            settings.studio_url,
            kind,
            object_id,
            tenant_id=settings.tenant_id,
            **settings.workspace,
        )


F = TypeVar("F", bound=Callable[..., Any])


def serves_v2(method: F) -> F:
    """Send the call to the hook's v2 client when the connection speaks v2.

    The hooks' methods speak v1; on a v2 connection the client of
    :mod:`~airflow_provider_mlpipelines.hooks._v2_client` answers the same method with the same
    models, or refuses one that v2 has no equivalent for, naming what to do instead. This is
    the one place where the two APIs part.
    """
    name = method.__name__

    @functools.wraps(method)
    def dispatch(self: Any, *args: Any, **kwargs: Any) -> Any:
        client = self.v2
        if client is None:
            return method(self, *args, **kwargs)
        served = getattr(client, name, None)
        if served is None:
            raise AzureMLInvalidInputError(
                f"{name} is a v1 operation (published pipelines and pipeline endpoints); it is "
                "not available on a v2 (batch endpoint) connection"
            )
        return served(*args, **kwargs)

    return dispatch  # type: ignore[return-value]


def quoted(value: Any) -> str:
    """How an object id appears in messages: ``'abc'``."""
    return repr(str(value))


def check_log_kind(kind: str) -> str:
    """Return the log kind as the service spells it, or raise naming the accepted kinds."""
    for known in routes.STEP_LOG_KINDS:
        if kind.lower() == known.lower():
            return known
    raise AzureMLInvalidInputError(
        f"log kind {kind!r} is not one of {format_choices(routes.STEP_LOG_KINDS)}"
    )


def check_id(value: Any, what: str) -> str:
    """An id argument as a non-empty string, or raise naming the argument."""
    if not isinstance(value, str) or not value.strip():
        raise AzureMLInvalidInputError(f"{what} must be a non-empty string, got {value!r}")
    return value.strip()


def active_only_query(active_only: bool) -> dict[str, str]:
    """The ``activeOnly`` query parameter of the list routes."""
    return {routes.QUERY_ACTIVE_ONLY: "true" if active_only else "false"}


def entity_status(status: EntityStatus | str) -> EntityStatus:
    """An entity status from a name, a code or the enum, or raise naming the valid ones."""
    try:
        return EntityStatus.parse(status)
    except ValueError as exc:
        raise AzureMLInvalidInputError(str(exc)) from None


def connection_form_widgets() -> dict[str, Any]:
    """Airflow 2.11 form fields for the connection's extras, from ``CONNECTION_EXTRA_FIELDS``.

    Airflow 2.11 accepts only string, integer, password and boolean fields, so numbers are
    entered as text (the settings parser converts them).
    """
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, IntegerField, StringField

    field_classes = {"string": StringField, "integer": IntegerField, "number": StringField}
    widgets: dict[str, Any] = {}
    for key, (label, json_type, description) in CONNECTION_EXTRA_FIELDS.items():
        if json_type == "boolean":
            widgets[key] = BooleanField(lazy_gettext(label), description=description)
        else:
            widgets[key] = field_classes[json_type](
                lazy_gettext(label), widget=BS3TextFieldWidget(), description=description
            )
    return widgets
