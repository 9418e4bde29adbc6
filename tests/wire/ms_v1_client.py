"""Microsoft's generated v1 client, wrapped for ``ms_v1_driver.py``: calls, checks, records.

Imported only by the driver, in the ``.venv-ms-v1`` interpreter: it imports
``azureml-pipeline-core`` (``AMLPipelinesAPI10`` and its msrest models) and nothing from this
project. :class:`ClientSession` calls one generated method per operation with the bearer token
as a custom header (as ``service_caller.py`` does), checks every raw JSON answer against the
models' ``_attribute_map`` (:func:`unknown_fields`), and prints one JSON line per operation.
"""

from __future__ import annotations

import difflib
import json
import time
from typing import Any

import requests
from azureml.pipeline.core._restclients.aeva import models
from azureml.pipeline.core._restclients.aeva.aml_pipelines_api10 import AMLPipelinesAPI10
from msrest.pipeline import ClientRawResponse

#: The prefix every generated workspace-scoped method name shares.
_PREFIX = (
    "api_v10_subscriptions_by_subscription_id_resource_groups_by_resource_group_name"
    "_providers_microsoft_machine_learning_services_workspaces_by_workspace_name_"
)

#: Operation -> the generated client method it calls (the long AutoRest name).
CLIENT_METHODS = {
    "get_run": _PREFIX + "pipeline_runs_by_pipeline_run_id_get",
    "get_graph": _PREFIX + "graphs_by_graph_id_get",
    "get_graph_interface": _PREFIX + "graphs_by_graph_id_interface_get",
    "create_pipeline": _PREFIX + "pipelines_create_post",
    "get_pipeline": _PREFIX + "pipelines_by_pipeline_id_get",
    "list_pipelines": _PREFIX + "pipelines_get",
    "set_pipeline_status": _PREFIX + "pipelines_by_pipeline_id_status_put",
    "create_endpoint": _PREFIX + "pipeline_endpoint_create_post",
    "get_endpoint_by_id": _PREFIX + "pipeline_endpoint_by_id_get",
    "get_endpoint_by_name": _PREFIX + "pipeline_endpoint_by_name_get",
    "update_endpoint": _PREFIX + "pipeline_endpoint_by_id_put",
    "list_endpoints": _PREFIX + "pipeline_endpoints_get",
    # Microsoft's generator spells this one "resource_group_by", not "resource_groups_by".
    "list_endpoint_pipelines": (
        "api_v10_subscriptions_by_subscription_id_resource_group_by_resource_group_name"
        "_providers_microsoft_machine_learning_services_workspaces_by_workspace_name_"
        "pipeline_endpoints_by_id_pipelines_get"
    ),
    "submit_to_pipeline": _PREFIX + "pipeline_runs_pipeline_submit_by_pipeline_id_post",
    "submit_to_endpoint": _PREFIX + "pipeline_endpoint_submit_by_pipeline_run_id_post",
    "list_runs_of_pipeline": _PREFIX + "pipeline_runs_pipeline_by_pipeline_id_get",
    "get_step_statuses": _PREFIX + "pipeline_runs_by_pipeline_run_id_graph_all_nodes_status_post",
    "get_step_stdout": _PREFIX + "pipeline_runs_by_pipeline_run_id_graph_shareable_stdout_post",
    "get_step_outputs": _PREFIX + "pipeline_runs_by_pipeline_run_id_outputs_post",
    "error_not_found": _PREFIX + "pipelines_by_pipeline_id_get",
    "cancel_run": _PREFIX + "pipeline_runs_by_pipeline_run_id_execution_delete",
}

#: The scope ``azureml-core`` asks for (resource ``https://management.core.windows.net/``).
SDK_SCOPE = "https://management.core.windows.net//.default"

# Status codes as ``_aeva_provider.py`` maps them: the service sends codes or names.
RUN_STATES = {"0": "NotStarted", "1": "Running", "2": "Failed", "3": "Finished", "4": "Canceled"}
STEP_STATES = {
    "0": "NotStarted",
    "1": "Queued",
    "2": "Running",
    "3": "Failed",
    "4": "Finished",
    "5": "Canceled",
    "6": "PartiallyExecuted",
    "7": "Bypassed",
}
TERMINAL_RUN_STATES = {"Finished", "Failed", "Canceled"}

#: Every model class of the generated client, by the name its ``_attribute_map`` uses.
MODEL_CLASSES = {name: cls for name, cls in vars(models).items() if isinstance(cls, type)}


class WireMismatch(Exception):
    """The emulator's answer disagrees with Microsoft's client or with what was sent."""


def expect(condition: bool, message: str) -> None:
    """Raise :class:`WireMismatch` with ``message`` unless ``condition`` holds.

    :param condition: what must hold.
    :param message: what was wrong, naming the field and both values.
    """
    if not condition:
        raise WireMismatch(message)


def unknown_fields(
    data: Any, data_type: str, where: str, classes: dict[str, type] = MODEL_CLASSES
) -> list[str]:
    """Fields of ``data`` that the msrest type ``data_type`` does not declare, recursively.

    :param data: a decoded JSON value.
    :param data_type: an msrest type string: a model name, ``[T]``, ``{T}`` or a basic type.
    :param where: the path of ``data`` in the answer, for messages.
    :param classes: the generated models by name (by default the pipelines client's; the run
        history driver passes azureml-core's ``azureml._restclient.models``).
    """
    if data is None:
        return []
    if data_type.startswith("[") and data_type.endswith("]"):
        if not isinstance(data, list):
            return [f"{where}: expected a JSON array for {data_type}, got {type(data).__name__}"]
        inner = data_type[1:-1]
        return [
            p
            for i, item in enumerate(data)
            for p in unknown_fields(item, inner, f"{where}[{i}]", classes)
        ]
    if data_type.startswith("{") and data_type.endswith("}"):
        if not isinstance(data, dict):
            return [f"{where}: expected a JSON object for {data_type}, got {type(data).__name__}"]
        inner = data_type[1:-1]
        return [
            p for k, v in data.items() for p in unknown_fields(v, inner, f"{where}.{k}", classes)
        ]
    model = classes.get(data_type)
    if model is None:
        return []  # a basic type: msrest converts it or raises DeserializationError
    if not isinstance(data, dict):
        return [f"{where}: expected a JSON object for {data_type}, got {type(data).__name__}"]
    declared = {attr["key"]: attr["type"] for attr in model._attribute_map.values()}
    problems = []
    for key, value in data.items():
        if key in declared:
            problems += unknown_fields(value, declared[key], f"{where}.{key}", classes)
            continue
        near = difflib.get_close_matches(key, declared, n=1, cutoff=0.6)
        hint = f" (Microsoft's model has {near[0]!r})" if near else ""
        problems.append(f"{where}: field {key!r} is not in Microsoft's {data_type} model{hint}")
    return problems


def run_state(run: Any) -> str:
    """The state name of a ``PipelineRunEntity`` (a null ``Status`` means NotStarted)."""
    if run.status is None or run.status.status_code is None:
        return "NotStarted"
    return RUN_STATES.get(run.status.status_code, run.status.status_code)


class ClientSession:
    """``AMLPipelinesAPI10`` on one emulator: token, checked calls, one printed line per call.

    :param manifest: the emulator's manifest document.
    """

    def __init__(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest
        self.ca_bundle = manifest["ca_bundle"]
        self.client = AMLPipelinesAPI10(base_url=manifest["base_url"])
        # msrest's requests session verifies TLS against this file.
        self.client.config.connection.verify = self.ca_bundle
        self.workspace = {
            "subscription_id": manifest["subscription_id"],
            "resource_group_name": manifest["resource_group"],
            "workspace_name": manifest["workspace_name"],
        }
        self.headers: dict[str, str] = {}
        self.op = "start"
        self.step_nodes: dict[str, str] = {}

    # ------------------------------------------------------------------------------ plumbing
    def record(self, op: str, **facts: Any) -> None:
        """Print the line of one completed operation.

        :param op: the operation's name (a key of :data:`CLIENT_METHODS`, or ``token``).
        :param facts: what it returned, for the test to check.
        """
        line = {"op": op, "client_method": CLIENT_METHODS.get(op, ""), **facts}
        print(json.dumps(line, sort_keys=True), flush=True)

    def call(
        self,
        op: str,
        model: str | None,
        *,
        extra_headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Call the generated method of ``op`` and check the raw answer against ``model``.

        :param op: a key of :data:`CLIENT_METHODS`.
        :param model: the msrest type the method deserialises into (``None``: no JSON body).
        :param extra_headers: headers for this call only, besides the bearer token.
        :param kwargs: the method's own arguments (the workspace ones are added).
        """
        self.op = op
        method = getattr(self.client, CLIENT_METHODS[op])
        headers = {**self.headers, **(extra_headers or {})}
        answer = method(**self.workspace, custom_headers=headers, raw=True, **kwargs)
        if not isinstance(answer, ClientRawResponse):
            return answer  # the log methods return the decoded text whatever ``raw`` says
        if model is not None:
            problems = unknown_fields(answer.response.json(), model, model)
            expect(not problems, "; ".join(problems))
        return answer.output

    def acquire_token(self) -> None:
        """Client-credentials token from the emulator's token endpoint, for the SDK's scope."""
        self.op = "token"
        m = self.manifest
        config_url = f"{m['base_url']}/{m['tenant_id']}/v2.0/.well-known/openid-configuration"
        config = requests.get(config_url, verify=self.ca_bundle, timeout=30)
        config.raise_for_status()
        answer = requests.post(
            config.json()["token_endpoint"],
            data={
                "grant_type": "client_credentials",
                "client_id": m["client_id"],
                "client_secret": m["client_secret"],
                "scope": SDK_SCOPE,
            },
            verify=self.ca_bundle,
            timeout=30,
        )
        answer.raise_for_status()
        body = answer.json()
        expect(body.get("token_type") == "Bearer", f"token_type {body.get('token_type')!r}")
        # As azureml-core's auth object's get_authentication_header() gives it.
        self.headers = {"Authorization": f"Bearer {body['access_token']}"}
        self.record("token", scope=SDK_SCOPE, expires_in=int(body["expires_in"]))

    def wait_for_run(self, run_id: str, states: set[str], timeout: float = 300.0) -> Any:
        """Poll the run (every half second) until its state is in ``states``.

        :param run_id: the pipeline run.
        :param states: the states to wait for.
        :param timeout: seconds before giving up.
        """
        deadline = time.monotonic() + timeout
        while True:
            run = self.call("get_run", "PipelineRunEntity", pipeline_run_id=run_id)
            state = run_state(run)
            if state in states:
                return run
            expect(
                state not in TERMINAL_RUN_STATES,
                f"run {run_id} ended {state}, expected one of {sorted(states)}",
            )
            expect(
                time.monotonic() < deadline,
                f"run {run_id} still {state} after {timeout:g} s, expected {sorted(states)}",
            )
            time.sleep(0.5)


def same_value(got: str | None, sent: str) -> bool:
    """Whether an echoed parameter value is the one sent.

    The emulator echoes the effective value in canonical form ("600" sent to a float parameter
    reads back "600.0"); what the real service echoes is not in the SDK, and the SDK only reads
    these values as strings, so numbers compare by value.
    """
    if got == sent:
        return True
    try:
        return got is not None and float(got) == float(sent)
    except ValueError:
        return False


def parameter_names(interface: Any) -> dict[str, list[str]]:
    """The declared names of an ``EntityInterface``, by kind."""
    return {
        "Parameters": [p.name for p in interface.parameters or []],
        "DataPathParameters": [p.name for p in interface.data_path_parameters or []],
        "DataPathParameterList": [p.name for p in interface.data_path_parameter_list or []],
    }
