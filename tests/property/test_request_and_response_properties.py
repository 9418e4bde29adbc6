"""Property-based tests of request building and response parsing (no server unless noted)."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_mlpipelines.api.models import (
    DataPath,
    PipelineEndpoint,
    PipelineInterface,
    PipelineParameter,
    PipelineRun,
    PipelineSubmissionInfo,
    PipelineVersion,
    PublishedPipeline,
    RunStatusInfo,
)
from airflow_provider_mlpipelines.api.status import (
    EntityStatus,
    ParameterType,
    PipelineRunStatus,
    StepRunStatus,
)
from airflow_provider_mlpipelines.clients.core.submission_input import build_submission
from airflow_provider_mlpipelines.clients.v1.bodies import converts_to, validate_submission

QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=20,
)
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
str_maps = st.dictionaries(names, texts, max_size=5)
optional_texts = st.none() | texts

VALUES_OF_TYPE: dict[ParameterType, st.SearchStrategy[Any]] = {
    ParameterType.INT: st.integers(min_value=-(10**18), max_value=10**18),
    ParameterType.DOUBLE: st.floats(allow_nan=False, allow_infinity=False),
    ParameterType.BOOL: st.booleans(),
    ParameterType.STRING: texts,
}


@st.composite
def declared_parameters(draw: st.DrawFn) -> tuple[PipelineInterface, dict[str, Any]]:
    """An interface of typed parameters and values of the declared types for some of them."""
    declared = draw(
        st.dictionaries(names, st.sampled_from(list(VALUES_OF_TYPE)), min_size=1, max_size=6)
    )
    interface = PipelineInterface(
        parameters=[PipelineParameter(name=n, type=t) for n, t in declared.items()]
    )
    chosen = draw(st.lists(st.sampled_from(sorted(declared)), unique=True))
    values = {name: draw(VALUES_OF_TYPE[declared[name]]) for name in chosen}
    return interface, values


@QUICK
@given(declared_parameters(), st.dictionaries(names, st.none() | texts | st.integers()))
def test_values_of_the_declared_types_always_build_and_validate(
    case: tuple[PipelineInterface, dict[str, Any]], tags: dict[str, Any]
) -> None:
    interface, values = case
    submission = build_submission(experiment_name="exp", parameters=values, tags=tags)
    validate_submission(interface, submission, target="the pipeline")
    assert submission.parameter_assignments == {k: str(v) for k, v in values.items()}
    assert submission.tags == {k: "" if v is None else str(v) for k, v in tags.items()}
    # What is sent must survive the wire: JSON and back, then parse to the same submission.
    wire = json.loads(json.dumps(submission.to_json()))
    assert PipelineSubmissionInfo.from_json(wire) == submission


@QUICK
@given(st.sampled_from([ParameterType.INT, ParameterType.DOUBLE, ParameterType.BOOL]), texts)
def test_converts_to_agrees_with_python_parsing(declared: ParameterType, text: str) -> None:
    def parses() -> bool:
        stripped = text.strip()
        try:
            if declared is ParameterType.INT:
                int(stripped)
            elif declared is ParameterType.DOUBLE:
                return math.isfinite(float(stripped))
            else:
                return stripped.lower() in ("true", "false")
        except ValueError:
            return False
        return True

    assert converts_to(text, declared) == parses()


data_paths = st.builds(DataPath, datastore_name=names, relative_path=names)
statuses = st.sampled_from(list(EntityStatus))
run_statuses = st.sampled_from([s for s in PipelineRunStatus if s is not PipelineRunStatus.UNKNOWN])

MODELS: dict[str, st.SearchStrategy[Any]] = {
    "DataPath": data_paths,
    "PipelineVersion": st.builds(PipelineVersion, version=names, pipeline_id=names),
    "PipelineSubmissionInfo": st.builds(
        PipelineSubmissionInfo,
        experiment_name=names,
        description=optional_texts,
        parameter_assignments=st.none() | str_maps,
        data_path_assignments=st.none()
        | st.dictionaries(names, data_paths.map(lambda d: d.to_json()), max_size=3),
        continue_run_on_step_failure=st.none() | st.booleans(),
        tags=st.none() | str_maps,
    ),
    "PublishedPipeline": st.builds(
        PublishedPipeline,
        id=names,
        name=names,
        description=optional_texts,
        version=optional_texts,
        total_run_steps=st.none() | st.integers(0, 1000),
        parameter_assignments=str_maps,
        url=optional_texts,
        status=statuses,
        properties=str_maps,
    ),
    "PipelineEndpoint": st.builds(
        PipelineEndpoint,
        id=names,
        name=names,
        default_version=st.none() | names,
        versions=st.lists(st.builds(PipelineVersion, version=names, pipeline_id=names)),
        status=statuses,
        tags=str_maps,
    ),
    "PipelineRun": st.builds(
        PipelineRun,
        id=names,
        status_info=st.builds(
            RunStatusInfo,
            status=run_statuses,
            status_detail=optional_texts,
            creation_time=optional_texts,
        ),
        pipeline_id=optional_texts,
        total_run_steps=st.none() | st.integers(0, 1000),
        tags=str_maps,
        entity_status=st.none() | statuses,
    ),
    "PipelineInterface": st.builds(
        PipelineInterface,
        parameters=st.lists(
            st.builds(
                PipelineParameter,
                name=names,
                default_value=optional_texts,
                type=st.sampled_from(list(ParameterType)),
                is_optional=st.booleans(),
            ),
            max_size=4,
        ),
    ),
}


MODEL_CLASSES: dict[str, Any] = {
    cls.__name__: cls
    for cls in (
        DataPath,
        PipelineVersion,
        PipelineSubmissionInfo,
        PublishedPipeline,
        PipelineEndpoint,
        PipelineRun,
        PipelineInterface,
    )
}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_models_round_trip_through_json(model: str) -> None:
    @QUICK
    @given(MODELS[model])
    def round_trip(value: Any) -> None:
        wire = json.loads(json.dumps(value.to_json()))
        assert type(value).from_json(wire) == value

    round_trip()


@pytest.mark.parametrize("model", sorted(MODELS))
def test_missing_optional_fields_parse_to_defaults(model: str) -> None:
    cls = MODEL_CLASSES[model]
    value = cls.from_json({})
    assert value == cls.from_json({key: None for key in cls.wire_keys()})
    assert cls.from_json(json.loads(json.dumps(value.to_json()))) == value


ENUMS = (EntityStatus, PipelineRunStatus, StepRunStatus, ParameterType)


def _case_variants(text: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(text), max_size=len(text)).map(
        lambda flags: "".join(
            c.upper() if up else c.lower() for c, up in zip(text, flags, strict=True)
        )
    )


@QUICK
@given(st.data())
def test_status_names_parse_in_any_case_with_spaces(data: st.DataObject) -> None:
    enum = data.draw(st.sampled_from(ENUMS))
    member = data.draw(st.sampled_from(list(enum)))
    spelled = data.draw(_case_variants(member.value))
    padding = data.draw(st.sampled_from(["", " ", "\t"]))
    assert enum.parse(padding + spelled + padding) is member


@QUICK
@given(st.data())
def test_status_codes_parse_as_ints_and_numeric_strings(data: st.DataObject) -> None:
    enum = data.draw(st.sampled_from(ENUMS))
    member = data.draw(st.sampled_from([m for m in enum if _has_code(m)]))
    assert enum.parse(member.code) is member
    assert enum.parse(str(member.code)) is member


def _has_code(member: Any) -> bool:
    try:
        return isinstance(member.code, int)
    except ValueError:
        return False


@QUICK
@given(texts | st.integers() | st.none())
def test_unknown_run_states_are_never_terminal(value: Any) -> None:
    status = PipelineRunStatus.from_status(value)
    known = {m.value.lower() for m in PipelineRunStatus} | {"completed", "cancelled"}
    if isinstance(value, str) and value.strip().lower() in known:
        return
    numeric = isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
    if numeric and int(value) in (2, 3, 4):
        return
    assert not status.is_terminal


# ------------------------------------------------------------------------------ real round trip
UNICODE_VALUES = ["Zürich ☃", "東京 — テスト", "emoji 🚀 ok", 'quote " and \\ back', "ﬁ ligature"]


def test_unicode_parameters_and_tags_round_trip_through_the_emulator(
    emulator_conn: dict[str, Any],
) -> None:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    hook = AzureMLPipelinesHook()
    try:
        pipeline = hook.publish_pipeline_from_run(
            emulator_conn["pipeline_runs"]["simulated"],
            name=f"unicode-ünï-{uuid.uuid4().hex[:6]}",
            version="1",
        )
        for value in UNICODE_VALUES:
            submission = build_submission(
                experiment_name="unicode-exp",
                parameters={"outcome": value, "duration_seconds": 0},
                tags={"note": value},
            )
            run = hook.submit_pipeline_run(pipeline.id, submission)
            fetched = hook.get_pipeline_run(run.id)
            assert fetched.parameter_assignments["outcome"] == value
            assert fetched.tags["note"] == value
        assert hook.get_published_pipeline(pipeline.id).name == pipeline.name
    finally:
        hook.close()
