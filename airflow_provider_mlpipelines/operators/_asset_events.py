"""Asset (Airflow 2: dataset) events that carry the Azure ML run a task made.

When a task of this provider has ``outlets``, each asset event's ``extra`` gets the keys of
:data:`EXTRA_KEYS` (``None`` where one does not apply), so that a DAG scheduled on the asset can
use the run, endpoint and version in its templates
(``triggering_asset_events[asset][-1].extra['version']``). ``outputs`` lists the URIs of what
the run wrote (``wasbs://{container}@{account}.dfs.core.windows.net/{path}``, or
``azureml://.../datastores/{datastore}/paths/{path}`` where the storage is not known).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_mlpipelines.operators._lineage import complete_target, record_change
from airflow_provider_mlpipelines.operators._lineage_names import dataset_uri

if TYPE_CHECKING:
    from airflow_provider_mlpipelines._compat import Context

#: The keys of every event's ``extra``; other DAGs are written against them.
EXTRA_KEYS = (
    "run_id",
    "status",
    "studio_url",
    "pipeline_id",
    "component_id",
    "endpoint",
    "version",
    "deployment",
    "outputs",
)


def run_extra(record: Mapping[str, Any]) -> dict[str, Any]:
    """The ``extra`` of an asset event made from a lineage record (JSON values only).

    :param record: ``operator.lineage_record``.
    """
    extra = {key: record.get(key) for key in EXTRA_KEYS}
    if extra["version"] is not None:
        extra["version"] = str(extra["version"])
    outputs = record.get("outputs") or []
    extra["outputs"] = [dataset_uri(namespace, name) for namespace, name in outputs] or None
    return extra


def emit_run_extras(operator: Any, context: Context, **changes: Any) -> None:
    """Put the run's (or change's) fields on the event of every outlet of ``operator``.

    Does nothing, and sends no request, for a task without outlets.

    :param operator: an operator of this provider, its ``lineage_record`` set.
    :param context: the task's context (``outlet_events``).
    :param changes: fields to update in the record first, e.g. the run's final ``status``.
    """
    record = getattr(operator, "lineage_record", None)
    if record is None:
        return
    record.update(changes)
    outlets = list(getattr(operator, "outlets", None) or [])
    events = context.get("outlet_events")
    if not outlets or events is None:
        return
    extra = run_extra(complete_target(operator.hook, record))
    for outlet in outlets:
        events[outlet].extra.update(extra)


def report_change(operator: Any, context: Context, **fields: Any) -> None:
    """Record what a publish or endpoint operator changed (for OpenLineage) and put it on the
    events of its outlets.

    :param operator: the operator.
    :param context: the task's context.
    :param fields: ``pipeline_id`` (the pipeline or component), ``endpoint``, ``endpoint_id``,
        ``version`` (a v1 version or a v2 deployment), ``studio_url``.
    """
    record_change(operator, **fields)
    emit_run_extras(operator, context)
