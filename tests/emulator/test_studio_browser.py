"""The studio driven as a person would, in a real Chromium (Debian's ``chromium``, through
Playwright; no browser is downloaded): home -> run -> step log -> output file, on v1 and v2.

Chromium missing fails these tests (never a silent skip): ``scripts/test.sh`` installs it when
run as root, and otherwise names the command to run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from studio_helpers import CHROMIUM, StudioWorld, studio_world, wait_terminal

pytestmark = pytest.mark.timeout(300)

XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioWorld]:
    with studio_world(tmp_path_factory) as made:
        yield made


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: the studio browser tests drive Debian's chromium. "
            "Install it with: sudo apt-get install -y chromium (scripts/test.sh does it as root)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, world: StudioWorld) -> Iterator[Any]:
    context = browser.new_context(ignore_https_errors=True, base_url=world.emulator.base_url)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    opened.dialogs = dialogs
    try:
        yield opened
    finally:
        context.close()


def _click_through(page: Any, run_id: str, step: str, stdout_line: str, output: str) -> str:
    """Home -> run -> step -> output file, asserting what each page shows; returns the file's
    text as the browser shows it."""
    from playwright.sync_api import expect

    page.goto("/studio/")
    expect(page.get_by_role("heading", name="Runs and jobs")).to_be_visible()
    page.get_by_role("link", name=run_id, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(run_id)
    graph = page.locator("svg[aria-label='Step graph']")
    expect(graph).to_be_visible()
    expect(graph.locator(f"g.node[data-step='{step}']")).to_have_class(re.compile("st-finished"))
    page.locator("#steps").get_by_role("link", name=step, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Step {step} of {run_id}")
    expect(page.locator("#stdout")).to_contain_text(stdout_line)
    page.get_by_role("link", name=output).click()
    body = page.locator("body")
    expect(body).not_to_be_empty()
    return str(body.inner_text())


def test_v1_home_run_step_log_output_file(page: Any, world: StudioWorld) -> None:
    text = _click_through(
        page, world.run_id, "train", "epochs=5", f"models/{world.run_id}/model.json"
    )
    assert "train_mse" in text
    assert page.url.endswith(f"/studio/files/workspaceblobstore/models/{world.run_id}/model.json")


def test_v2_home_job_step_log_output_file(page: Any, world: StudioWorld) -> None:
    from playwright.sync_api import expect

    text = _click_through(
        page, world.job_id, "score", "mean_prediction=", f"predictions/{world.job_id}.csv"
    )
    assert text.startswith("id,prediction")
    page.go_back()
    page.go_back()
    # The job's page links its batch endpoint and component.
    expect(page.get_by_role("link", name=world.deployed.endpoint, exact=True)).to_be_visible()


def test_a_filter_on_the_home_page_narrows_the_list(page: Any, world: StudioWorld) -> None:
    from playwright.sync_api import expect

    page.goto("/studio/")
    page.get_by_label("Experiment").select_option("studio-v2")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name=world.job_id, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=world.run_id, exact=True)).to_have_count(0)
    assert "experiment=studio-v2" in page.url


def test_a_parameter_holding_markup_is_shown_as_text(page: Any, world: StudioWorld) -> None:
    from playwright.sync_api import expect

    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    with AzureMLPipelinesHook(world.v1_conn) as hook:
        pipeline, _ = hook.publish_pipeline_once(
            world.emulator.manifest["pipeline_runs"]["simulated"], name="simulated_xss"
        )
        run = hook.submit_pipeline_run(
            pipeline.id,
            hook.build_submission(
                experiment_name="studio-xss",
                parameters={"duration_seconds": 0, "outcome": XSS},
                tags={"note": XSS},
            ),
        )
        wait_terminal(hook, run.id)
    raw = world.get(f"/studio/runs/{run.id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "<script" not in raw.lower()
    page.goto(f"/studio/runs/{run.id}")
    expect(page.get_by_text(XSS, exact=True).first).to_be_visible()
    assert page.locator("script").count() == 0
    assert page.dialogs == []
