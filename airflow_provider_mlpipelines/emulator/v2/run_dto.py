"""Run history's ``RunDto`` with every key the recorded service answers for a job's step.

The emulator's run-history model (:class:`~airflow_provider_mlpipelines.api.runs.HistoryRun`)
carries what the provider reads; the recorded child runs carry about fifty keys
(tests/fixtures/recordings/run_history_children.json). Those the emulator has no value for are
answered as the service answers them when unset: ``null``, empty, or a fixed local value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


def _duration(start: str | None, end: str | None) -> str | None:
    """``hh:mm:ss.fffffff`` between two ISO times, as run history spells durations."""
    if not start or not end:
        return None
    try:
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    except ValueError:
        return None
    hours, rest = divmod(max(seconds, 0.0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{secs:010.7f}"


def run_dto(child: dict[str, Any], root_run_id: str, client_id: str) -> dict[str, Any]:
    """``child`` (a run-history child run as the emulator renders it) with the recorded keys."""
    user = {
        "userObjectId": client_id,
        "userPuId": None,
        "userIdp": None,
        "userAltSecId": None,
        "userIss": None,
        "userTenantId": None,
        "userName": "emulator",
        "upn": None,
        "clientApplicationId": client_id,
        "applicationACR": None,
    }
    duration = _duration(child.get("startTimeUtc"), child.get("endTimeUtc"))
    run_id = str(child.get("runId", ""))
    filled: dict[str, Any] = {
        "runNumber": 1,
        "rootRunId": root_run_id,
        "createdBy": user,
        "userId": client_id,
        "token": None,
        "tokenExpiryTimeUtc": None,
        "error": None,
        "warnings": [],
        "revision": 1,
        "statusRevision": 1,
        "runUuid": run_id,
        "parentRunUuid": root_run_id,
        "rootRunUuid": root_run_id,
        "lastStartTimeUtc": None,
        "currentComputeTime": None,
        "computeDuration": duration,
        "effectiveStartTimeUtc": None,
        "lastModifiedBy": user,
        "lastModifiedUtc": child.get("endTimeUtc") or child.get("createdUtc"),
        "duration": duration,
        "cancelationReason": None,
        "currentAttemptId": 1,
        "scheduleId": None,
        "dataContainerId": f"dcid.{run_id}",
        "description": None,
        "hidden": False,
        "runTypeV2": {
            "orchestrator": "Execution",
            "traits": ["azureml.StepRun", "scriptRun", "local"],
            "attribution": "Emulator",
            "computeType": "local",
        },
        "parameters": {},
        "actionUris": {"Cancel": "", "Diagnose": ""},
        "scriptName": None,
        "target": "local",
        "uniqueChildRunComputeTargets": [],
        "settings": {},
        "services": {},
        "inputDatasets": [],
        "outputDatasets": [],
        "runDefinition": None,
        "jobSpecification": None,
        "primaryMetricName": None,
        "createdFrom": None,
        "cancelUri": None,
        "completeUri": None,
        "diagnosticsUri": "",
        "computeRequest": {"nodeCount": 1, "gpuCount": 0},
        "compute": {
            "target": "local",
            "targetType": "local",
            "vmSize": None,
            "instanceType": None,
            "instanceCount": 1,
            "gpuCount": 0,
            "priority": None,
            "region": None,
            "armId": None,
            "properties": None,
        },
        "retainForLifetimeOfWorkspace": None,
        "queueingInfo": None,
        "inputs": None,
        "outputs": None,
    }
    filled.update({key: value for key, value in child.items() if value is not None})
    return filled
