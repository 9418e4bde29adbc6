"""What the sync and the async hook share: the Airflow identity, the connection and its form."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines._compat import BaseHook
from airflow_provider_mlpipelines.clients.core.settings import (
    ConnectionSettings,
    settings_from_connection,
)
from airflow_provider_mlpipelines.get_provider_info import (
    CONNECTION_EXTRA_FIELDS,
    CONNECTION_TYPE,
    DEFAULT_CONN_ID,
)

if TYPE_CHECKING:
    from airflow_provider_mlpipelines.api.datastores import DataLocation, DatastoreStorage
    from airflow_provider_mlpipelines.clients.protocol import PipelinesClient


class LineageReads:
    """The sync hook's reads for lineage: the storage behind a datastore and a run's outputs."""

    if TYPE_CHECKING:

        @property
        def client(self) -> PipelinesClient: ...

    def get_datastore(self, name: str) -> DatastoreStorage | None:
        """The storage behind datastore ``name``, read once per hook (``None``: unreadable)."""
        return self.client.get_datastore(name)

    def get_run_outputs(self, run_id: str) -> list[DataLocation]:
        """Where a run wrote its outputs, as far as the service says."""
        return self.client.get_run_outputs(run_id)


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
