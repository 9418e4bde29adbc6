"""In-memory state of the emulator, with its indexes, backed by the store.

Reads are dictionary lookups (status polling must be cheap); every change goes through a
``save_*`` method, which updates the indexes and marks the record for the next flush.
"""

from __future__ import annotations

from airflow_provider_mlpipelines.emulator.records import (
    EndpointRecord,
    GraphRecord,
    PipelineRecord,
    RunRecord,
    StepRecord,
)
from airflow_provider_mlpipelines.emulator.store import Store


class State:
    """Every graph, pipeline, endpoint and run of the workspace.

    :param store: where the records are persisted.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.graphs: dict[str, GraphRecord] = {}
        self.pipelines: dict[str, PipelineRecord] = {}
        self.endpoints: dict[str, EndpointRecord] = {}
        self.runs: dict[str, RunRecord] = {}
        self.endpoint_ids_by_name: dict[str, str] = {}
        self.run_ids_by_pipeline: dict[str, list[str]] = {}
        self.steps_by_run_id: dict[str, tuple[RunRecord, StepRecord]] = {}

    def load(self) -> None:
        """Read every record from the store."""
        for doc in self.store.load("graph"):
            graph = GraphRecord.from_doc(doc)
            self.graphs[graph.id] = graph
        for doc in self.store.load("pipeline"):
            pipeline = PipelineRecord.from_doc(doc)
            self.pipelines[pipeline.id] = pipeline
        for doc in self.store.load("endpoint"):
            endpoint = EndpointRecord.from_doc(doc)
            self.endpoints[endpoint.id] = endpoint
            self.endpoint_ids_by_name[endpoint.name] = endpoint.id
        runs = [RunRecord.from_doc(doc) for doc in self.store.load("run")]
        for run in sorted(runs, key=lambda r: r.created):
            self._index_run(run)

    def save_graph(self, graph: GraphRecord) -> None:
        """Store a new or changed graph.

        :param graph: the record.
        """
        self.graphs[graph.id] = graph
        self.store.mark_dirty("graph", graph.id, graph)

    def save_pipeline(self, pipeline: PipelineRecord) -> None:
        """Store a new or changed published pipeline.

        :param pipeline: the record.
        """
        self.pipelines[pipeline.id] = pipeline
        self.store.mark_dirty("pipeline", pipeline.id, pipeline)

    def save_endpoint(self, endpoint: EndpointRecord, old_name: str | None = None) -> None:
        """Store a new or changed endpoint.

        :param endpoint: the record.
        :param old_name: its previous name when it was renamed.
        """
        if old_name is not None and old_name != endpoint.name:
            self.endpoint_ids_by_name.pop(old_name, None)
        self.endpoints[endpoint.id] = endpoint
        self.endpoint_ids_by_name[endpoint.name] = endpoint.id
        self.store.mark_dirty("endpoint", endpoint.id, endpoint)

    def save_run(self, run: RunRecord) -> None:
        """Store a new or changed run.

        :param run: the record.
        """
        if run.id not in self.runs:
            self._index_run(run)
        self.store.mark_dirty("run", run.id, run)

    def _index_run(self, run: RunRecord) -> None:
        self.runs[run.id] = run
        if run.pipeline_id:
            self.run_ids_by_pipeline.setdefault(run.pipeline_id, []).append(run.id)
        for step in run.steps:
            self.steps_by_run_id[step.run_id] = (run, step)
