"""The one place that knows where Airflow 2.11 and Airflow 3 keep the classes we build on.

Airflow 3 moved the authoring API to ``airflow.sdk``; Airflow 2.11 keeps it under
``airflow.models`` and friends. Everything else imports these names from here.
"""

from __future__ import annotations

from typing import Any

from airflow import __version__ as AIRFLOW_VERSION
from airflow.triggers.base import BaseTrigger, TriggerEvent

AIRFLOW_V_3 = int(AIRFLOW_VERSION.split(".", 1)[0]) >= 3
_MINOR = tuple(int(p) for p in AIRFLOW_VERSION.split(".")[:2] if p.isdigit())
#: The triggerer calls a trigger's ``on_kill`` when a user stops a deferred task from Airflow
#: 3.3 on; before, the trigger is only cancelled, exactly as when its triggerer goes away.
TRIGGER_ON_KILL = _MINOR >= (3, 3)
#: Airflow 3.0's execution API answers a pushed ``None`` with 422 ("Field required").
_NULL_XCOM_REFUSED = _MINOR == (3, 0)

if AIRFLOW_V_3:
    from airflow.sdk import BaseOperator, BaseOperatorLink, BaseSensorOperator
    from airflow.sdk.execution_time.xcom import XCom

    try:
        from airflow.sdk import BaseHook
    except ImportError:  # Airflow 3.0: the task SDK gained BaseHook in 3.1
        from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
else:  # Airflow 2.11
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef]
    from airflow.models import BaseOperator  # type: ignore[no-redef]
    from airflow.models.baseoperatorlink import BaseOperatorLink  # type: ignore[no-redef]
    from airflow.models.xcom import XCom  # type: ignore[no-redef]
    from airflow.sensors.base import BaseSensorOperator  # type: ignore[no-redef]

try:
    from airflow.sdk.definitions.context import Context
except ImportError:  # Airflow 2.11
    from airflow.utils.context import Context  # type: ignore[no-redef,assignment]

try:
    from airflow.sdk.exceptions import AirflowSensorTimeout
except ImportError:  # Airflow 2.11
    from airflow.exceptions import AirflowSensorTimeout  # type: ignore[no-redef,assignment]


def default_deferrable() -> bool:
    """``[operators] default_deferrable``, read when an operator is created."""
    try:
        from airflow.sdk.configuration import conf
    except ImportError:  # Airflow 2.11 and 3.0-3.1, before the task SDK had its own config
        from airflow.configuration import conf  # type: ignore[no-redef]
    return conf.getboolean("operators", "default_deferrable", fallback=False)


def push_xcom(ti: Any, key: str, value: Any) -> None:
    """``ti.xcom_push(key, value)``; a ``None`` is not pushed on Airflow 3.0, which refuses it,
    and where a key was not pushed ``xcom_pull`` gives ``None`` all the same."""
    if value is None and _NULL_XCOM_REFUSED:
        return
    ti.xcom_push(key=key, value=value)


def mask_secret(secret: Any) -> None:
    """Register ``secret`` with Airflow's log masker, whatever the Airflow version."""
    if not secret:
        return
    try:
        from airflow.sdk.log import mask_secret as _mask
    except ImportError:
        from airflow.utils.log.secrets_masker import mask_secret as _mask  # type: ignore[no-redef]
    _mask(secret)


__all__ = [
    "AIRFLOW_V_3",
    "TRIGGER_ON_KILL",
    "AirflowSensorTimeout",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "BaseTrigger",
    "Context",
    "TriggerEvent",
    "XCom",
    "default_deferrable",
    "mask_secret",
    "push_xcom",
]
