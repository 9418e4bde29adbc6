"""Drive the emulator with Microsoft's own generated v1 REST client, ``AMLPipelinesAPI10``.

Run by the interpreter of ``.venv-ms-v1`` (``azureml-pipeline-core==1.62.0``, pinned by
``constraints/ms-client-v1.txt``), never by the Airflow venv::

    .venv-ms-v1/bin/python tests/wire/ms_v1_driver.py STATE_DIR/manifest.json

Neither it nor its helper ``ms_v1_client.py`` imports anything from this project: requests are
built and answers deserialised only by Microsoft's generated client
(``azureml/pipeline/core/_restclients/aeva``) and its msrest models, the way
``azureml.pipeline.core`` calls them (``service_caller.py`` passes the bearer token as a custom
header; ``_aeva_provider.py`` publishes from a run and adds endpoint versions). Besides msrest's
own checks, every JSON answer is walked against the models' ``_attribute_map``: a field the
model does not know (a casing slip such as ``graphId`` or ``Tags``) would otherwise be dropped
silently.

Prints one JSON line per operation, ``{"op": ..., "client_method": ..., ...facts}``; on the first
deserialisation error, unexpected status or mismatch it prints ``{"op": ..., "error": ...}`` and
exits with 1.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

import requests
from azureml.pipeline.core._restclients.aeva import models
from ms_v1_client import (
    CLIENT_METHODS,
    STEP_STATES,
    ClientSession,
    WireMismatch,
    expect,
    parameter_names,
    run_state,
    same_value,
    unknown_fields,
)
from msrest.exceptions import ClientException


class Driver(ClientSession):
    """Walks the v1 contract with ``AMLPipelinesAPI10``, printing one line per operation.

    :param manifest: the emulator's manifest document.
    """

    def publish(self, seed_run_id: str, name: str, version: str) -> Any:
        """Publish the graph of ``seed_run_id`` as ``PipelineRun.publish_pipeline`` does.

        :param seed_run_id: a pipeline run of the emulator's workspace.
        :param name: the published pipeline's name.
        :param version: its version label.
        """
        run = self.call("get_run", "PipelineRunEntity", pipeline_run_id=seed_run_id)
        expect(run.id == seed_run_id, f"run Id {run.id!r}, asked for {seed_run_id!r}")
        expect(bool(run.graph_id), f"run {seed_run_id} has no GraphId")
        self.record("get_run", run_id=run.id, graph_id=run.graph_id, state=run_state(run))

        graph = self.call("get_graph", "GraphEntity", graph_id=run.graph_id)
        expect(graph.id == run.graph_id, f"graph Id {graph.id!r}, asked for {run.graph_id!r}")
        nodes = [node.id for node in graph.module_nodes or []]
        expect(bool(nodes), f"graph {graph.id} has no ModuleNodes")
        # The emulator names each step in its node's Comment (the SDK puts the step name there).
        self.step_nodes = {node.comment: node.id for node in graph.module_nodes}
        self.record("get_graph", graph_id=graph.id, module_nodes=nodes)

        interface = self.call("get_graph_interface", "EntityInterface", graph_id=run.graph_id)
        self.record("get_graph_interface", parameters=parameter_names(interface))

        info = models.PipelineCreationInfo(
            name=name,
            description=f"published by Microsoft's client from run {seed_run_id}",
            version=version,
            graph=graph,
            graph_interface=interface,
            data_set_definition_value_assignments=run.data_set_definition_value_assignments,
            continue_run_on_step_failure=True,
            properties={"wire.client": "AMLPipelinesAPI10"},
            enable_email_notification=False,
        )
        pipeline = self.call("create_pipeline", "PipelineEntity", pipeline_creation_info=info)
        expect(bool(pipeline.id), "the created pipeline has no Id")
        expect(pipeline.name == name, f"Name {pipeline.name!r}, sent {name!r}")
        expect(pipeline.version == version, f"Version {pipeline.version!r}, sent {version!r}")
        expect(bool(pipeline.graph_id), "the created pipeline has no GraphId")
        expect(
            pipeline.entity_status in ("Active", "0"),
            f"EntityStatus {pipeline.entity_status!r}, expected Active",
        )
        expect(
            pipeline.continue_run_on_step_failure is True,
            f"ContinueRunOnStepFailure {pipeline.continue_run_on_step_failure!r}, sent True",
        )
        expect(
            pipeline.enable_email_notification is False,
            f"EnableNotification {pipeline.enable_email_notification!r}, sent False",
        )
        expect(
            (pipeline.properties or {}).get("wire.client") == "AMLPipelinesAPI10",
            f"Properties {pipeline.properties!r} lost 'wire.client'",
        )
        expect(
            pipeline.total_run_steps == len(nodes),
            f"TotalRunSteps {pipeline.total_run_steps!r}, the graph has {len(nodes)} nodes",
        )
        expect(
            bool(pipeline.url) and pipeline.url.endswith(f"/PipelineSubmit/{pipeline.id}"),
            f"Url {pipeline.url!r} is not the pipeline's submit URL",
        )
        self.record(
            "create_pipeline",
            pipeline_id=pipeline.id,
            name=pipeline.name,
            version=pipeline.version,
            graph_id=pipeline.graph_id,
        )
        return pipeline

    def walk(self) -> None:
        """Every step of the v1 contract, in the order a DAG author's tasks would use them."""
        self.acquire_token()
        seed = self.manifest["pipeline_runs"]["train"]
        suffix = uuid.uuid4().hex[:8]
        first = self.publish(seed, f"ms-client-train-{suffix}", "1")
        second = self.publish(seed, f"ms-client-train-{suffix}", "2")

        got = self.call("get_pipeline", "PipelineEntity", pipeline_id=first.id)
        expect(got.id == first.id, f"Id {got.id!r}, asked for {first.id!r}")
        expect(got.name == first.name, f"Name {got.name!r}, published {first.name!r}")
        expect(got.graph_id == first.graph_id, f"GraphId {got.graph_id!r} != {first.graph_id!r}")
        self.record("get_pipeline", pipeline_id=got.id, name=got.name, version=got.version)

        listed = self.call("list_pipelines", "[PipelineEntity]", active_only=True)
        listed_ids = {p.id for p in listed}
        expect(
            {first.id, second.id} <= listed_ids,
            f"list of {len(listed)} pipelines misses {first.id} or {second.id}",
        )
        self.record("list_pipelines", count=len(listed), contains=[first.id, second.id])

        interface = self.call("get_graph_interface", "EntityInterface", graph_id=got.graph_id)
        names = parameter_names(interface)
        expect(
            {"learning_rate", "epochs", "sleep_seconds"} <= set(names["Parameters"]),
            f"interface Parameters {names['Parameters']}",
        )
        expect(
            "training_data" in names["DataPathParameters"],
            f"interface DataPathParameters {names['DataPathParameters']}",
        )
        self.record("get_graph_interface", pipeline_id=got.id, parameters=names)

        endpoint = self.endpoints(first, second, suffix)
        self.submissions(first, endpoint)
        self.cancellation(first)
        self.disable(second)
        self.not_found()

    def endpoints(self, first: Any, second: Any, suffix: str) -> Any:
        """Create an endpoint on ``first``, look it up, add ``second`` as version 1 and list.

        :param first: the pipeline of version "0".
        :param second: the pipeline added as version "1" (not the default).
        :param suffix: makes the endpoint's name unique.
        """
        name = f"ms-client-endpoint-{suffix}"
        created = self.call(
            "create_endpoint",
            "PipelineEndpointEntity",
            pipeline_endpoint_creation_info=models.PipelineEndpointCreationInfo(
                name=name, description="created by Microsoft's client", pipeline_id=first.id
            ),
        )
        expect(created.name == name, f"Name {created.name!r}, sent {name!r}")
        expect(created.default_version == "0", f"DefaultVersion {created.default_version!r}")
        versions = [(v.version, v.pipeline_id) for v in created.pipeline_version_list or []]
        expect(versions == [("0", first.id)], f"PipelineVersionList {versions}")
        expect(
            bool(created.url) and created.url.endswith(f"/PipelineEndpointSubmit/Id/{created.id}"),
            f"Url {created.url!r} is not the endpoint's submit URL",
        )
        self.record("create_endpoint", endpoint_id=created.id, name=name, versions=versions)

        by_id = self.call("get_endpoint_by_id", "PipelineEndpointEntity", endpoint_id=created.id)
        expect(by_id.id == created.id and by_id.name == name, f"by id: {by_id.id} {by_id.name}")
        self.record("get_endpoint_by_id", endpoint_id=by_id.id, name=by_id.name)
        by_name = self.call("get_endpoint_by_name", "PipelineEndpointEntity", name=name)
        expect(by_name.id == created.id, f"by name: Id {by_name.id!r}, created {created.id!r}")
        self.record("get_endpoint_by_name", endpoint_id=by_name.id, name=by_name.name)

        # PipelineEndpoint.add(): read, append the next version, PUT the whole entity back.
        by_id.pipeline_version_list.append(
            models.PipelineVersion(version="1", pipeline_id=second.id)
        )
        updated = self.call(
            "update_endpoint", "PipelineEndpointEntity", endpoint_id=created.id, updated=by_id
        )
        versions = [(v.version, v.pipeline_id) for v in updated.pipeline_version_list or []]
        expect(versions == [("0", first.id), ("1", second.id)], f"PipelineVersionList {versions}")
        expect(updated.default_version == "0", f"DefaultVersion {updated.default_version!r}")
        self.record("update_endpoint", endpoint_id=updated.id, versions=versions)

        # The SDK caps the list with a BatchSize header (get_all_pipeline_endpoints_async).
        listed = self.call(
            "list_endpoints",
            "[PipelineEndpointEntity]",
            active_only=True,
            extra_headers={"BatchSize": "100"},
        )
        expect(created.id in {e.id for e in listed}, f"endpoint {created.id} not listed")
        self.record("list_endpoints", count=len(listed), contains=created.id)

        pipelines = self.call(
            "list_endpoint_pipelines", "[PipelineEntity]", id=created.id, active_only=True
        )
        expect(
            {p.id for p in pipelines} == {first.id, second.id},
            f"pipelines of the endpoint: {[p.id for p in pipelines]}",
        )
        self.record("list_endpoint_pipelines", endpoint_id=created.id, count=len(pipelines))
        return updated

    def submission(self, experiment: str, epochs: str, training_path: str) -> Any:
        """A ``PipelineSubmissionInfo`` as ``PipelineEndpoint.submit`` builds it, plus data paths.

        :param experiment: the experiment name.
        :param epochs: the ``epochs`` parameter (a string, as the SDK sends every value).
        :param training_path: the datastore path assigned to ``training_data``.
        """
        return models.PipelineSubmissionInfo(
            experiment_name=experiment,
            description=f"{experiment}: submitted by Microsoft's client",
            run_source="SDK",
            run_type="SDK",
            parameter_assignments={"learning_rate": "0.05", "epochs": epochs},
            data_path_assignments={
                "training_data": models.LegacyDataPath(
                    data_store_name="workspaceblobstore", relative_path=training_path
                )
            },
            tags={"wire.client": "AMLPipelinesAPI10"},
        )

    def check_submitted(self, run: Any, info: Any, pipeline_id: str) -> None:
        """Compare a submitted ``PipelineRunEntity`` with its ``PipelineSubmissionInfo``.

        :param run: the answer to the submission.
        :param info: what was sent.
        :param pipeline_id: the published pipeline that must have run.
        """
        expect(bool(run.id), "the submitted run has no Id")
        expect(
            run.pipeline_id == pipeline_id, f"PipelineId {run.pipeline_id!r}, ran {pipeline_id!r}"
        )
        expect(
            run.run_history_experiment_name == info.experiment_name,
            f"RunHistoryExperimentName {run.run_history_experiment_name!r}, "
            f"sent {info.experiment_name!r}",
        )
        sent = info.parameter_assignments
        got = run.parameter_assignments or {}
        expect(
            all(same_value(got.get(name), value) for name, value in sent.items()),
            f"ParameterAssignments {got!r}, sent {sent!r}",
        )
        expect(
            (run.tags or {}).get("wire.client") == "AMLPipelinesAPI10",
            f"tags {run.tags!r} lost 'wire.client'",
        )

    def submissions(self, first: Any, endpoint: Any) -> dict[str, str]:
        """Submit to the pipeline, to endpoint version 1 and to the default; read the results.

        :param first: the pipeline of the endpoint's version "0" (its default).
        :param endpoint: the endpoint, whose version "1" is another pipeline.
        """
        folder = Path(self.manifest["datastores"]["workspaceblobstore"])
        # validation.csv has the training columns and a different row count than the
        # default training_data, so the step's output shows which file it really read.
        assigned = "housing/validation.csv"
        rows = len((folder / assigned).read_text(encoding="utf-8").splitlines()) - 1

        runs: dict[str, str] = {}
        info = self.submission("ms-client-wire", "7", assigned)
        run = self.call(
            "submit_to_pipeline",
            "PipelineRunEntity",
            pipeline_id=first.id,
            pipeline_submission_info=info,
        )
        self.check_submitted(run, info, first.id)
        runs["pipeline"] = run.id
        self.record("submit_to_pipeline", run_id=run.id, pipeline_id=first.id, epochs="7")

        second_id = next(v.pipeline_id for v in endpoint.pipeline_version_list if v.version == "1")
        info = self.submission("ms-client-wire", "9", assigned)
        run = self.call(
            "submit_to_endpoint",
            "PipelineRunEntity",
            id=endpoint.id,
            pipeline_version="1",
            pipeline_submission_info=info,
        )
        self.check_submitted(run, info, second_id)
        runs["endpoint_version"] = run.id
        self.record(
            "submit_to_endpoint", run_id=run.id, pipeline_id=second_id, pipeline_version="1"
        )

        info = self.submission("ms-client-wire", "11", assigned)
        run = self.call(
            "submit_to_endpoint",
            "PipelineRunEntity",
            id=endpoint.id,
            pipeline_submission_info=info,
        )
        self.check_submitted(run, info, first.id)
        runs["endpoint_default"] = run.id
        self.record(
            "submit_to_endpoint", run_id=run.id, pipeline_id=first.id, pipeline_version=None
        )

        epochs = {"pipeline": "7", "endpoint_version": "9", "endpoint_default": "11"}
        for kind, run_id in runs.items():
            run = self.wait_for_run(run_id, {"Finished"})
            expect(run.status.end_time is not None, f"run {run_id} Finished without an EndTime")
            self.record("get_run", run_id=run_id, kind=kind, state=run_state(run))
            self.check_steps(run_id, {"4": "Finished"})
            log = self.call(
                "get_step_stdout",
                None,
                pipeline_run_id=run_id,
                node_id_path=[self.step_nodes["train"]],
            )
            expected = f"rows={rows} epochs={epochs[kind]} learning_rate=0.05"
            expect(expected in log, f"STDOUT of run {run_id} lacks {expected!r}: {log[-400:]!r}")
            self.record("get_step_stdout", run_id=run_id, line=expected)

        outputs = self.call(
            "get_step_outputs",
            "{NodeOutput}",
            pipeline_run_id=runs["pipeline"],
            node_id_path=[self.step_nodes["train"]],
        )
        expect(
            "model" in outputs and outputs["model"].data_location is not None,
            f"outputs of the train step: {sorted(outputs)}, expected 'model' with a DataLocation",
        )
        self.record("get_step_outputs", run_id=runs["pipeline"], outputs=sorted(outputs))

        listed = self.call("list_runs_of_pipeline", "[PipelineRunEntity]", pipeline_id=first.id)
        listed_ids = {r.id for r in listed}
        expect(
            {runs["pipeline"], runs["endpoint_default"]} <= listed_ids,
            f"runs of pipeline {first.id}: {sorted(listed_ids)}",
        )
        expect(runs["endpoint_version"] not in listed_ids, "a run of version 1 is listed under 0")
        self.record("list_runs_of_pipeline", pipeline_id=first.id, count=len(listed))
        return runs

    def check_steps(self, run_id: str, allowed: dict[str, str]) -> dict[str, str]:
        """Read every step's ``TaskStatus``; each must be in ``allowed`` (code -> name).

        :param run_id: the pipeline run.
        :param allowed: the step states acceptable now.
        """
        statuses = self.call(
            "get_step_statuses", "{TaskStatus}", pipeline_run_id=run_id, node_id_path=[]
        )
        expect(
            set(statuses) == set(self.step_nodes.values()),
            f"step statuses of run {run_id} for nodes {sorted(statuses)}, "
            f"the graph has {sorted(self.step_nodes.values())}",
        )
        states = {}
        for node_id, status in statuses.items():
            code = status.status_code
            state = STEP_STATES.get(code, code)
            expect(
                code in allowed or state in allowed.values(),
                f"step {node_id} of run {run_id} is {state}, expected {sorted(allowed.values())}",
            )
            states[node_id] = state
        self.record("get_step_statuses", run_id=run_id, steps=states)
        return states

    def cancellation(self, pipeline: Any) -> None:
        """Submit a run that waits in its first step, cancel it, and see it Canceled.

        :param pipeline: the published pipeline to run.
        """
        info = self.submission("ms-client-wire-cancel", "5", "housing/train.csv")
        info.parameter_assignments["sleep_seconds"] = "600"
        run = self.call(
            "submit_to_pipeline",
            "PipelineRunEntity",
            pipeline_id=pipeline.id,
            pipeline_submission_info=info,
        )
        self.check_submitted(run, info, pipeline.id)
        self.record("submit_to_pipeline", run_id=run.id, pipeline_id=pipeline.id, epochs="5")
        self.wait_for_run(run.id, {"Running"})
        self.call("cancel_run", None, pipeline_run_id=run.id)
        self.record("cancel_run", run_id=run.id)
        ended = self.wait_for_run(run.id, {"Canceled"})
        self.record("get_run", run_id=run.id, kind="canceled", state=run_state(ended))
        self.check_steps(run.id, {"0": "NotStarted", "5": "Canceled"})

    def disable(self, pipeline: Any) -> None:
        """Disable a published pipeline; it leaves the active list and reads back Disabled.

        :param pipeline: the published pipeline.
        """
        self.call("set_pipeline_status", None, pipeline_id=pipeline.id, new_status="Disabled")
        got = self.call("get_pipeline", "PipelineEntity", pipeline_id=pipeline.id)
        expect(
            got.entity_status in ("Disabled", "2"),
            f"EntityStatus {got.entity_status!r} after disabling, expected Disabled",
        )
        active = self.call("list_pipelines", "[PipelineEntity]", active_only=True)
        expect(pipeline.id not in {p.id for p in active}, "a disabled pipeline is listed active")
        self.record("set_pipeline_status", pipeline_id=pipeline.id, status=got.entity_status)

    def not_found(self) -> None:
        """An unknown pipeline id: a 404 whose body deserialises into ``ErrorResponse``."""
        missing = str(uuid.uuid4())
        try:
            self.call("get_pipeline", "PipelineEntity", pipeline_id=missing)
        except models.ErrorResponseException as error:
            body = error.response.json()
            problems = unknown_fields(body, "ErrorResponse", "ErrorResponse")
            expect(not problems, "; ".join(problems))
            status = error.response.status_code
            code = error.error.error.code if error.error and error.error.error else None
            expect(status == 404, f"status {status} for an unknown pipeline, expected 404")
            expect(bool(code), f"the 404 body has no Error.Code: {body!r}")
            self.record("error_not_found", status=status, code=code)
            return
        raise WireMismatch(f"GET of unknown pipeline {missing} succeeded")


def main(argv: list[str]) -> int:
    """Walk the contract against the emulator whose manifest is ``argv[1]``.

    :param argv: the command line.
    """
    if len(argv) != 2:
        print(f"usage: {argv[0]} MANIFEST", file=sys.stderr)
        return 2
    manifest = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    driver = Driver(manifest)
    try:
        driver.walk()
    except models.ErrorResponseException as error:
        response = error.response
        failure = f"HTTP {response.status_code} {response.reason}: {response.text[:2000]}"
    except (ClientException, WireMismatch, requests.RequestException) as error:
        failure = f"{type(error).__name__}: {error}"
    else:
        print(json.dumps({"op": "done"}), flush=True)
        return 0
    op = driver.op
    line = {"op": op, "client_method": CLIENT_METHODS.get(op, ""), "error": failure}
    print(json.dumps(line, sort_keys=True), flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
