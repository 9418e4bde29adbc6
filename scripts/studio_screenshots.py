"""Screenshots of the emulator's local studio for the README: ``docs/studio-home.png`` and
``docs/studio-run.png``.

Starts an emulator in a temporary state dir, makes a few runs through the provider's hook (a
finished training run, a failed and a running simulated run, a v2 batch job), then opens the
studio's home page and the training run's page in Debian's chromium through Playwright (no
browser download)::

    .venv/bin/python scripts/studio_screenshots.py [--out docs]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"


def _wait(hook: Any, run_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not hook.get_pipeline_run(run_id).status.is_terminal:
        if time.monotonic() > deadline:
            raise SystemExit(f"run {run_id} did not end within {timeout:g} s")
        time.sleep(0.25)


def make_runs(manifest: dict[str, Any]) -> str:
    """Runs for the pictures, made through the hooks; returns the training run's id."""
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    os.environ["AIRFLOW_CONN_STUDIO_V1"] = json.dumps(manifest["airflow_conn"])
    os.environ["AIRFLOW_CONN_STUDIO_V2"] = json.dumps(manifest["airflow_conn_v2"])
    with AzureMLPipelinesHook("studio_v1") as hook:
        train, _ = hook.publish_pipeline_once(manifest["pipeline_runs"]["train"], name="train")
        simulated, _ = hook.publish_pipeline_once(
            manifest["pipeline_runs"]["simulated"], name="simulated"
        )
        hook.ensure_pipeline_in_endpoint("train-endpoint", train.id)
        run = hook.submit_pipeline_run(
            train.id,
            hook.build_submission(experiment_name="house-prices", parameters={"epochs": 200}),
        )
        failed = hook.submit_pipeline_run(
            simulated.id,
            hook.build_submission(
                experiment_name="load-test", parameters={"duration_seconds": 1, "outcome": "Failed"}
            ),
        )
        _wait(hook, run.id)
        _wait(hook, failed.id)
    with AzureMLPipelinesHook("studio_v2") as hook:
        jobs = manifest["v2_pipeline_jobs"]
        score = hook.publish_pipeline_once(jobs["score"], name="score", version="1")[0]
        hook.ensure_pipeline_in_endpoint("scoring", score.id, deployment_name="score-1")
        job = hook.submit_pipeline_endpoint_run(
            "scoring", hook.build_submission(experiment_name="daily-scoring")
        )
        _wait(hook, job.id)
    with AzureMLPipelinesHook("studio_v1") as hook:
        hook.submit_pipeline_run(
            simulated.id,
            hook.build_submission(
                experiment_name="load-test", parameters={"duration_seconds": 600}
            ),
        )
    return run.id


def shoot(base_url: str, run_id: str, out: Path) -> None:
    """Open the home page and the run's page in chromium and save them as PNGs."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(
                ignore_https_errors=True, viewport={"width": 1280, "height": 800}
            )
            page.goto(f"{base_url}/studio/")
            page.screenshot(path=str(out / "studio-home.png"), full_page=True)
            page.goto(f"{base_url}/studio/runs/{run_id}")
            page.screenshot(path=str(out / "studio-run.png"), full_page=True)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder of the PNGs")
    args = parser.parse_args(argv)
    if not os.access(CHROMIUM, os.X_OK):
        print(f"{CHROMIUM} is missing; install it with: sudo apt-get install -y chromium")
        return 1
    from airflow_provider_mlpipelines.emulator.testing import EmulatorProcess

    with (
        tempfile.TemporaryDirectory(prefix="studio-shots-") as state_dir,
        EmulatorProcess(state_dir) as emulator,
    ):
        run_id = make_runs(emulator.manifest)
        shoot(emulator.base_url, run_id, args.out)
    for name in ("studio-home.png", "studio-run.png"):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
