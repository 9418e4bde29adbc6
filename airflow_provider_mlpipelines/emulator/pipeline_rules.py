"""Rules of graphs and published pipelines: the part of the workspace service endpoints build on.

Graphs snapshot a pipeline of the spec; publishing makes a pipeline of a graph with the defaults
the request gives. :class:`~.service.WorkspaceService` adds pipeline endpoints on top.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from airflow_provider_mlpipelines.api.graph import GraphEntity
from airflow_provider_mlpipelines.api.models import (
    DatasetValue,
    PipelineCreationInfo,
    PipelineInterface,
)
from airflow_provider_mlpipelines.api.status import EntityStatus
from airflow_provider_mlpipelines.emulator.bodies import (
    json_type,
    parse_object,
    require_bool,
    require_str_map,
    wire_key,
)
from airflow_provider_mlpipelines.emulator.datastores import Datastores
from airflow_provider_mlpipelines.emulator.errors import (
    EmulatorError,
    bad_request,
    lookup,
    not_found,
)
from airflow_provider_mlpipelines.emulator.pipeline_doc import pipeline_to_doc
from airflow_provider_mlpipelines.emulator.publishing import posted_steps
from airflow_provider_mlpipelines.emulator.records import GraphRecord, PipelineRecord, new_id
from airflow_provider_mlpipelines.emulator.spec_model import (
    PipelineSpec,
    WorkspaceSpec,
    WorkspaceSpecError,
)
from airflow_provider_mlpipelines.emulator.state import State
from airflow_provider_mlpipelines.emulator.submission import merge_data_inputs, resolve_parameters
from airflow_provider_mlpipelines.emulator.workspace import parse_pipeline

log = logging.getLogger(__name__)

_NAME_FIELD = wire_key(PipelineCreationInfo, "name")
_GRAPH_FIELD = wire_key(PipelineCreationInfo, "graph")
_GRAPH_ID_FIELD = f"{_GRAPH_FIELD}.{wire_key(GraphEntity, 'id')}"
_PARAMS_FIELD = wire_key(PipelineCreationInfo, "parameter_assignments")
_PROPERTIES_FIELD = wire_key(PipelineCreationInfo, "properties")
_TAGS_FIELD = wire_key(PipelineCreationInfo, "tags")
_CONTINUE_FIELD = wire_key(PipelineCreationInfo, "continue_run_on_step_failure")
_INTERFACE_FIELD = wire_key(PipelineCreationInfo, "graph_interface")


class PipelineRules:
    """Graphs and published pipelines of the emulated workspace.

    :param workspace: the spec.
    :param state: the records.
    :param datastores: resolves data references.
    """

    def __init__(self, workspace: WorkspaceSpec, state: State, datastores: Datastores) -> None:
        self.workspace = workspace
        self.state = state
        self.datastores = datastores
        self._specs: dict[str, PipelineSpec] = {}

    # ------------------------------------------------------------------------------ graphs
    def create_graph(self, spec: PipelineSpec) -> GraphRecord:
        """Record a graph that snapshots ``spec``.

        :param spec: the pipeline to snapshot.
        """
        graph = GraphRecord(new_id(), spec.name, pipeline_to_doc(spec))
        self.state.save_graph(graph)
        self._specs[graph.id] = spec
        return graph

    def get_graph(self, graph_id: str) -> GraphRecord:
        """A graph by id.

        :param graph_id: the id.
        :raises EmulatorError: 404 when unknown.
        """
        return lookup(self.state.graphs, "Graph", graph_id)

    def spec_of(self, graph_id: str) -> PipelineSpec:
        """The pipeline snapshot a graph executes.

        :param graph_id: the graph's id.
        :raises EmulatorError: 404 for an unknown graph; 500 if its snapshot no longer loads.
        """
        spec = self._specs.get(graph_id)
        if spec is None:
            graph = self.get_graph(graph_id)
            try:
                spec = parse_pipeline(graph.pipeline_name, graph.pipeline_doc, self.workspace)
            except WorkspaceSpecError as exc:
                raise EmulatorError(
                    500, "InternalError", f"Graph '{graph_id}' no longer loads: {exc}"
                ) from None
            self._specs[graph_id] = spec
        return spec

    # ------------------------------------------------------------------------------ pipelines
    def publish(self, info: PipelineCreationInfo) -> PipelineRecord:
        """Publish a pipeline from a graph, with defaults from the creation info.

        :param info: the ``PipelineCreationInfo`` body.
        :raises EmulatorError: 400 for a missing name or graph, invalid defaults or module
            nodes that are not the source graph's; 404 for an unknown graph.
        """
        name = (info.name or "").strip()
        if not name:
            raise bad_request(
                f"{_NAME_FIELD} is required to publish a pipeline", "MissingField", _NAME_FIELD
            )
        entity, source = self._source_graph(info.graph)
        spec = self._with_published_defaults(self.spec_of(source.id), name, info)
        # The posted graph is what gets published: its nodes, not the stored graph's.
        spec = posted_steps(spec, entity, source.id)
        graph = self.create_graph(spec)
        pipeline = PipelineRecord(
            id=new_id(),
            name=name,
            graph_id=graph.id,
            description=info.description,
            version=None if info.version is None else str(info.version),
            continue_on_step_failure=require_bool(
                info.continue_run_on_step_failure,
                _CONTINUE_FIELD,
                spec.continue_on_step_failure,
            ),
            enable_notification=info.enable_notification,
            parameter_assignments=require_str_map(info.parameter_assignments, _PARAMS_FIELD),
            dataset_assignments=dict(info.dataset_assignments or {}),
            properties=require_str_map(info.properties, _PROPERTIES_FIELD),
            tags=require_str_map(info.tags, _TAGS_FIELD),
        )
        self.state.save_pipeline(pipeline)
        log.info("Published pipeline %s (%s) from graph %s", name, pipeline.id, source.id)
        return pipeline

    def _source_graph(self, graph: Any) -> tuple[GraphEntity, GraphRecord]:
        entity = None if graph is None else parse_object(graph, GraphEntity, _GRAPH_FIELD)
        if entity is None or not entity.id:
            raise bad_request(
                f"{_GRAPH_ID_FIELD} (an existing graph) is required: publish from a pipeline "
                "run (GET PipelineRuns/{runId} gives its GraphId, GET Graphs/{GraphId} the "
                "graph), any run: one submitted or one the manifest lists under pipeline_runs",
                "MissingField",
                _GRAPH_ID_FIELD,
            )
        record = self.state.graphs.get(entity.id)
        if record is None:
            raise not_found("Graph", entity.id, _GRAPH_ID_FIELD)
        return entity, record

    def _with_published_defaults(
        self, spec: PipelineSpec, label: str, info: PipelineCreationInfo
    ) -> PipelineSpec:
        interface = PipelineInterface()
        if info.graph_interface is not None:
            interface = parse_object(info.graph_interface, PipelineInterface, _INTERFACE_FIELD)
        param_defaults = {
            p.name: p.default_value for p in interface.parameters if p.default_value is not None
        }
        param_defaults.update(require_str_map(info.parameter_assignments, _PARAMS_FIELD))
        values = resolve_parameters(spec, label, param_defaults)
        data_defaults: dict[str, Any] = {
            p.name: p.default_value.to_json()
            for p in interface.data_path_parameters
            if p.default_value is not None
        }
        data_defaults.update(info.data_path_assignments or {})
        dataset_defaults: dict[str, Any] = {
            p.name: p.default_value.to_json()
            for p in interface.dataset_parameters
            if p.default_value is not None and p.name not in data_defaults
        }
        dataset_defaults.update(info.dataset_assignments or {})
        for name in set(data_defaults) & set(dataset_defaults):
            data_defaults.pop(name)
        inputs = merge_data_inputs(spec, label, data_defaults, dataset_defaults)
        return dataclasses.replace(
            spec,
            parameters=tuple(
                dataclasses.replace(p, default=values[p.name]) for p in spec.parameters
            ),
            data_inputs=tuple(
                dataclasses.replace(
                    d, default=self._input_default(d.is_dataset, inputs[d.name], d.name)
                )
                for d in spec.data_inputs
            ),
        )

    def _input_default(self, is_dataset: bool, value: DatasetValue, name: str) -> DatasetValue:
        datastore, path = self.datastores.resolve_value(value, f"data input '{name}'")
        if is_dataset:
            return value
        # A data-path parameter's default is always a literal location.
        return DatasetValue(
            literal=dataclasses.replace(value.literal, datastore_name=datastore, relative_path=path)
        )  # type: ignore[arg-type]

    def get_pipeline(self, pipeline_id: str) -> PipelineRecord:
        """A published pipeline by id.

        :param pipeline_id: the id.
        :raises EmulatorError: 404 when unknown.
        """
        return lookup(self.state.pipelines, "Pipeline", pipeline_id)

    def list_pipelines(self, active_only: bool) -> list[PipelineRecord]:
        """Published pipelines, oldest first.

        :param active_only: leave out disabled and deprecated ones.
        """
        pipelines = sorted(self.state.pipelines.values(), key=lambda p: p.created)
        if active_only:
            pipelines = [p for p in pipelines if p.status is EntityStatus.ACTIVE]
        return pipelines

    def set_pipeline_status(self, pipeline_id: str, status: Any) -> PipelineRecord:
        """Enable, disable or deprecate a published pipeline.

        :param pipeline_id: the id.
        :param status: the body: a JSON string ``"Active"``, ``"Disabled"`` or ``"Deprecated"``.
        :raises EmulatorError: 404 for an unknown pipeline; 400 for any other body.
        """
        pipeline = self.get_pipeline(pipeline_id)
        pipeline.status = _parse_status(status, "The status body")
        pipeline.touch()
        self.state.save_pipeline(pipeline)
        return pipeline

    def check_submittable(self, pipeline: PipelineRecord) -> None:
        """Refuse submissions to a disabled pipeline.

        :param pipeline: the pipeline to submit to.
        :raises EmulatorError: 400 ``PipelineDisabled``.
        """
        if pipeline.status is EntityStatus.DISABLED:
            raise bad_request(
                f"Pipeline '{pipeline.name}' ({pipeline.id}) is Disabled; enable it (PUT status "
                '"Active") before submitting',
                "PipelineDisabled",
                pipeline.id,
            )


def _parse_status(value: Any, where: str) -> EntityStatus:
    if not isinstance(value, str):
        raise bad_request(
            f'{where} must be a JSON string ("Active", "Disabled" or "Deprecated"), '
            f"got {json_type(value)}",
            "InvalidBody",
        )
    try:
        return EntityStatus.parse(value)
    except ValueError:
        raise bad_request(
            f"'{value}' is not a status; use Active, Disabled or Deprecated", "InvalidStatus"
        ) from None
