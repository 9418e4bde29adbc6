"""The local studio's pages, fetched over HTTPS from a live emulator without any credential.

The runs, jobs, pipelines and endpoints are made through the provider's hooks
(``studio_helpers.py``), and the URLs checked are the ones the provider itself emits.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from studio_helpers import StudioWorld, studio_world, wait_terminal

from airflow_provider_mlpipelines.emulator.spec_model import StepSpec
from airflow_provider_mlpipelines.emulator.studio import graph

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioWorld]:
    with studio_world(tmp_path_factory) as made:
        yield made


def _text(page: str) -> str:
    """A page's text as a reader sees it (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_every_studio_url_the_provider_emits_lands_on_a_page_of_its_object(
    world: StudioWorld,
) -> None:
    expected_ids = {
        "v1 hook.get_run_url": world.run_id,
        "v1 async hook.get_run_url": world.run_id,
        "v1 hook.get_pipeline_url": world.pipeline_id,
        "v1 routes.studio_url endpoints": world.endpoint_id,
        "v1 routes.studio_url experiments": world.run_id,
        "v2 hook.get_run_url": world.job_id,
        "v2 async hook.get_run_url": world.job_id,
        "v2 Job.studio_url": world.job_id,
    }
    for source, component_id in world.deployed.components.items():
        # A component's page names its name and version (its ARM id ends with both).
        expected_ids[f"v2 hook.get_pipeline_url {source}"] = component_id.rsplit("/", 3)[1]
    assert set(world.urls) == set(expected_ids), "an emitter was not exercised"
    base = urlsplit(world.emulator.base_url)
    for source, url in world.urls.items():
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == (base.scheme, base.netloc), (source, url)
        assert parts.path.startswith("/studio/"), (source, url)
        response = world.get(url)
        assert response.status_code == 200, (source, url, response.text[:300])
        assert response.headers["Content-Type"].startswith("text/html"), source
        assert expected_ids[source] in _text(response.text), (source, url)


def test_the_run_page_draws_the_graph_lists_steps_inputs_and_links_outputs(
    world: StudioWorld,
) -> None:
    page = world.get(f"/studio/runs/{world.run_id}").text
    # train: two steps, train -> evaluate (v1 chaining), both finished.
    assert len(re.findall(r'<g class="node st-finished" data-step="', page)) == 2
    assert len(re.findall(r'<path class="edge"', page)) == 1
    assert "train → evaluate" in html.unescape(page)
    text = _text(page)
    assert "epochs" in text and "5" in text
    assert "workspaceblobstore/housing/train.csv" in text
    assert f'/studio/files/workspaceblobstore/models/{world.run_id}/model.json"' in page
    # Ended: no reload.
    assert 'http-equiv="refresh"' not in page


def test_the_step_page_shows_its_logs_and_the_output_file_is_served(world: StudioWorld) -> None:
    page = world.get(f"/studio/runs/{world.run_id}").text
    step_path = re.search(r'href="(/studio/runs/[^"]+/steps/[^"]+)">train<', page)
    assert step_path, "no link to the train step"
    step = world.get(step_path.group(1))
    assert step.status_code == 200
    stdout = re.search(r'<pre id="stdout">(.*?)</pre>', step.text, re.S)
    assert stdout, "the train step's stdout is not on its page"
    assert "epochs=5" in html.unescape(stdout.group(1))
    model = world.get(f"/studio/files/workspaceblobstore/models/{world.run_id}/model.json")
    assert model.status_code == 200
    assert model.headers["Content-Type"].startswith("application/json")
    assert "train_mse" in model.json()


def test_a_run_in_flight_reloads_itself_and_stops_when_it_ends(world: StudioWorld) -> None:
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    with AzureMLPipelinesHook(world.v1_conn) as hook:
        run = hook.submit_pipeline_run(
            world.pipeline_id,
            hook.build_submission(
                experiment_name="studio-refresh", parameters={"sleep_seconds": 3, "epochs": 2}
            ),
        )
        page = world.get(f"/studio/runs/{run.id}").text
        assert 'http-equiv="refresh"' in page
        wait_terminal(hook, run.id)
    assert 'http-equiv="refresh"' not in world.get(f"/studio/runs/{run.id}").text


def test_the_home_page_lists_v1_runs_and_v2_jobs_and_filters_them(world: StudioWorld) -> None:
    everything = world.get("/studio/").text
    assert world.run_id in everything and world.job_id in everything
    by_experiment = world.get("/studio/?experiment=studio-v2").text
    assert world.job_id in by_experiment and world.run_id not in by_experiment
    by_text = world.get(f"/studio/?q={world.run_id[:13].upper()}").text
    assert world.run_id in by_text and world.job_id not in by_text
    by_status = world.get("/studio/?status=Failed").text
    assert world.run_id not in by_status and world.job_id not in by_status
    finished = world.get("/studio/?status=Finished").text
    assert world.run_id in finished


def test_object_pages_show_versions_defaults_and_deployments(world: StudioWorld) -> None:
    endpoint = _text(world.get(f"/studio/endpoints/{world.endpoint_id}").text)
    assert "Default version" in endpoint and "default" in endpoint
    deployed = world.deployed
    batch = world.get(f"/studio/batchEndpoints/{deployed.endpoint}")
    assert batch.status_code == 200
    text = _text(batch.text)
    assert deployed.deployment in text and deployed.score_deployment in text
    assert world.job_id in text
    deployment = world.get(
        f"/studio/batchEndpoints/{deployed.endpoint}/deployments/{deployed.score_deployment}"
    )
    assert deployment.status_code == 200 and world.job_id in _text(deployment.text)


def test_an_unknown_object_answers_an_html_404_naming_it(world: StudioWorld) -> None:
    response = world.get("/studio/runs/no-such-run")
    assert response.status_code == 404
    assert "no-such-run" in _text(response.text)


def test_the_layout_puts_each_step_in_the_layer_of_its_longest_path() -> None:
    # a fans out to b and c; d waits for both and for a; e follows d (empty after: previous).
    steps = [
        StepSpec("a", "simulated"),
        StepSpec("b", "simulated", after=("a",)),
        StepSpec("c", "simulated", after=("a",)),
        StepSpec("c2", "simulated", after=("c",)),
        StepSpec("d", "simulated", after=("b", "c2", "a")),
        StepSpec("e", "simulated"),
    ]
    drawn = graph.layout(steps)
    layer = {node.name: node.layer for node in drawn.nodes}
    assert layer == {"a": 0, "b": 1, "c": 1, "c2": 2, "d": 3, "e": 4}
    assert {(e.source, e.target) for e in drawn.edges} == {
        ("a", "b"),
        ("a", "c"),
        ("c", "c2"),
        ("b", "d"),
        ("c2", "d"),
        ("a", "d"),
        ("d", "e"),
    }
    rows = {node.name: node.row for node in drawn.nodes}
    assert rows["b"] != rows["c"], "two steps of one layer overlap"
    assert all(edge.x1 < edge.x2 for edge in drawn.edges), "an edge runs backwards"
    assert drawn.width >= max(n.x for n in drawn.nodes) + graph.NODE_WIDTH


def test_a_v1_pipeline_without_edges_is_a_chain() -> None:
    steps = [StepSpec(name, "simulated") for name in ("one", "two", "three")]
    assert graph.layers([s.name for s in steps], graph.step_edges(steps)) == {
        "one": 0,
        "two": 1,
        "three": 2,
    }
