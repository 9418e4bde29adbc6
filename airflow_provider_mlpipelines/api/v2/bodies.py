"""Request bodies of Azure ML v2, in the exact casing ``MLClient`` sends (pure functions).

Each builder mirrors a body the contract quotes as "SDK sends": endpoint and deployment PUTs
(section 4 and 6), a component made from a pipeline job (5.1), an invoke (7) and a pipeline job
(8). Inputs are typed here, once, for both the invoke body (``Literal``/``UriFolder``) and the
job body (``literal``/``uri_folder``), which spell their discriminators differently.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from airflow_provider_mlpipelines.api.v2.models import (
    DATA_TYPES,
    LITERAL_TYPES,
    BatchEndpoint,
    ComponentVersion,
)

#: Batch endpoint names (contract section 1.1); the same rule is used for deployment names.
RESOURCE_NAME = re.compile(r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
RESOURCE_NAME_LENGTH = (3, 32)

Plane = Literal["invoke", "job"]

#: Job input types as each plane spells them: the ARM job API's ``jobInputType`` words, and
#: the scoring (invoke) API's. A ``path`` input (a component registered from a job) takes a
#: folder.
_JOB_KINDS = {
    "literal": "literal",
    "uri_folder": "uri_folder",
    "uri_file": "uri_file",
    "path": "uri_folder",
    "mltable": "mltable",
    "mlflow_model": "mlflow_model",
    "custom_model": "custom_model",
}
_INVOKE_KINDS = {
    "literal": "Literal",
    "uri_folder": "UriFolder",
    "uri_file": "UriFile",
    "path": "UriFolder",
    "mltable": "MLTable",
    "mlflow_model": "MLFlowModel",
    "custom_model": "CustomModel",
}


def check_resource_name(value: str, what: str) -> str | None:
    """Why ``value`` is not a valid endpoint/deployment name, or ``None`` when it is."""
    low, high = RESOURCE_NAME_LENGTH
    if not low <= len(value) <= high:
        return f"{what} {value!r} must be {low}-{high} characters long"
    if not RESOURCE_NAME.match(value):
        return (
            f"{what} {value!r} must start with a letter, end with a letter or digit, and "
            "contain only letters, digits and '-'"
        )
    return None


def deployment_name_for(component_name: str, version: str) -> str:
    """A valid deployment name derived from a component's name and version.

    ``score_pipe`` version ``3`` becomes ``score-pipe-3``; characters the name rule refuses turn
    into ``-``, runs of ``-`` collapse, and the result is cut to the length limit keeping the
    version, so two versions of one component never share a derived name.
    """
    suffix = re.sub(r"[^a-zA-Z0-9]+", "-", version).strip("-") or "v"
    stem = re.sub(r"[^a-zA-Z0-9]+", "-", component_name).strip("-")
    if not stem or not stem[0].isalpha():
        stem = f"d-{stem}".rstrip("-")
    room = RESOURCE_NAME_LENGTH[1] - len(suffix) - 1
    name = f"{stem[:room].rstrip('-')}-{suffix}"
    return name[: RESOURCE_NAME_LENGTH[1]].rstrip("-")


def datastore_uri(datastore: str, path: str) -> str:
    """``azureml://datastores/{datastore}/paths/{path}`` (contract section 7)."""
    return f"azureml://datastores/{datastore}/paths/{path.lstrip('/')}"


_DATASTORE_URI = re.compile(
    r"^azureml://(?:subscriptions/[^/]+/resourcegroups/[^/]+/workspaces/[^/]+/)?"
    r"datastores/(?P<datastore>[^/]+)/paths/(?P<path>.*)$",
    re.IGNORECASE,
)


def parse_datastore_uri(uri: str) -> tuple[str, str] | None:
    """``(datastore, path)`` of ``azureml://[subscriptions/.../workspaces/{ws}/]datastores/
    {datastore}/paths/{path}`` (the path as written, possibly empty), or ``None`` for any
    other text."""
    found = _DATASTORE_URI.match(uri)
    return None if found is None else (found["datastore"], found["path"])


def coerce_literal(value: Any, declared: str) -> Any:
    """``value`` as the declared literal type, or raise ``ValueError`` saying why not.

    Strings that spell a value of the type are accepted (templated parameters render to
    strings); a bool is never an integer or a number, and a float with a fraction is never an
    integer, as the service refuses both.
    """
    if declared == "string":
        return value if isinstance(value, str) else str(value)
    if isinstance(value, str):
        text = value.strip()
        if declared == "boolean":
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            raise ValueError(f"{value!r} is not a boolean (true or false)")
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not {_article(declared)} {declared}") from None
        value = int(number) if declared == "integer" and number.is_integer() else number
    if declared == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueError(f"{value!r} is not a boolean")
    if isinstance(value, bool) or not isinstance(value, LITERAL_TYPES[declared]):
        if declared == "integer" and isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"{value!r} is not {_article(declared)} {declared}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite {declared}")
    return value


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def literal_input(value: Any, plane: Plane) -> dict[str, Any]:
    """A literal job input; the job plane carries literal values as strings (section 8)."""
    if plane == "invoke":
        return {"jobInputType": _INVOKE_KINDS["literal"], "value": value}
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return {"jobInputType": "literal", "value": text}


def data_input(uri: str, kind: str, plane: Plane) -> dict[str, Any]:
    """A data input of one of :data:`DATA_TYPES` pointing at ``uri``."""
    if kind not in DATA_TYPES:
        raise ValueError(f"data input type {kind!r} is not one of {list(DATA_TYPES)}")
    wire_kind = _INVOKE_KINDS[kind] if plane == "invoke" else _JOB_KINDS[kind]
    return {"jobInputType": wire_kind, "uri": uri}


def typed_inputs(
    component: ComponentVersion | None,
    literals: Mapping[str, Any],
    data: Mapping[str, str],
    plane: Plane,
) -> dict[str, dict[str, Any]]:
    """Job inputs for ``literals`` and ``data`` (name -> uri), typed as ``component`` declares.

    Without a component (validation off), literals go as given and data inputs as folders.
    :raises ValueError: naming the input, when a value does not fit its declared type.
    """
    inputs: dict[str, dict[str, Any]] = {}
    for name, given in literals.items():
        declared = component.input_named(name) if component else None
        value = given
        if declared is not None and declared.is_literal:
            try:
                value = coerce_literal(given, declared.type)
            except ValueError as err:
                raise ValueError(f"input {name!r} ({declared.type}): {err}") from None
        inputs[name] = literal_input(value, plane)
    for name, uri in data.items():
        declared = component.input_named(name) if component else None
        kind = declared.type if declared is not None and declared.type in DATA_TYPES else None
        inputs[name] = data_input(uri, kind or "uri_folder", plane)
    return inputs


def endpoint_body(
    location: str,
    *,
    description: str | None = None,
    default_deployment: str | None = None,
    tags: Mapping[str, str] | None = None,
    properties: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """PUT body of a batch endpoint (contract section 4).

    ``authMode`` is sent as ``aadToken``, as ``MLClient`` sends it; the service answers
    ``AADToken`` (tests/fixtures/recordings/batch_endpoint_create.json).
    """
    props: dict[str, Any] = {"authMode": "aadToken", "properties": dict(properties or {})}
    if description is not None:
        props["description"] = description
    if default_deployment is not None:
        props["defaults"] = {"deploymentName": default_deployment}
    return {"location": location, "tags": dict(tags or {}), "properties": props}


def endpoint_with_default(endpoint: BatchEndpoint, deployment: str) -> dict[str, Any]:
    """The read-modify-write PUT that makes ``deployment`` the default (contract section 4).

    What was read goes back, server-set ``properties.properties`` entries included.
    """
    return endpoint_body(
        endpoint.location or "",
        description=endpoint.description,
        default_deployment=deployment,
        tags=endpoint.tags,
        properties=endpoint.properties,
    )


def deployment_body(
    location: str,
    component_id: str,
    *,
    description: str | None = None,
    settings: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """PUT body of a pipeline component deployment (contract section 6)."""
    props: dict[str, Any] = {
        "deploymentConfiguration": {
            "deploymentConfigurationType": "PipelineComponent",
            "componentId": {"referenceType": "Id", "assetId": component_id},
            "settings": dict(settings or {}),
            "tags": {},
        },
        # Fixed values the SDK sends for byte compatibility; meaningless for a pipeline.
        "errorThreshold": -1,
        "maxConcurrencyPerInstance": 1,
        "miniBatchSize": 10,
        "outputFileName": "predictions.csv",
    }
    if description is not None:
        props["description"] = description
        props["deploymentConfiguration"]["description"] = description
    return {"location": location, "tags": dict(tags or {}), "properties": props}


def component_from_job_body(
    source_job: str, name: str, version: str, description: str | None = None
) -> dict[str, Any]:
    """PUT body registering ``name``/``version`` from the pipeline job ``source_job`` (5.1).

    The SDK makes an anonymous component this way; a named, non-anonymous one is what a
    published pipeline maps to, so the spec carries the chosen name and version.
    """
    spec: dict[str, Any] = {
        "source_job_id": source_job,
        "sourceJobId": source_job,
        "name": name,
        "version": version,
        "type": "pipeline",
        "jobs": {},
        "_source": "CLASS",
    }
    body: dict[str, Any] = {
        "componentSpec": spec,
        "isAnonymous": False,
        "properties": {},
        "tags": {},
    }
    if description is not None:
        spec["description"] = description
        body["description"] = description
    return {"properties": body}


def invoke_body(
    inputs: Mapping[str, dict[str, Any]],
    *,
    experiment_name: str | None = None,
    job_name: str | None = None,
) -> dict[str, Any]:
    """POST body of an invoke (contract section 7); ``job_name`` is the name asked for, which
    the recorded service does not give the job (docs/emulator.md, "Unknowns")."""
    props: dict[str, Any] = {"inputData": dict(inputs)}
    if experiment_name:
        props["properties"] = {"experimentName": experiment_name}
    if job_name:
        props["name"] = job_name
    return {"properties": props}


def pipeline_job_body(
    component_id: str,
    inputs: Mapping[str, dict[str, Any]],
    *,
    experiment_name: str,
    display_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """PUT body of a pipeline job of ``component_id`` (contract section 8)."""
    props: dict[str, Any] = {
        "jobType": "Pipeline",
        "componentId": component_id,
        "experimentName": experiment_name,
        "tags": dict(tags or {}),
        "properties": {},
        "inputs": dict(inputs),
        "outputs": {},
        "jobs": {},
        "isArchived": False,
        "settings": dict(settings or {}),
    }
    if display_name:
        props["displayName"] = display_name
    return {"properties": props}
