"""The Python half of ``bash scripts/demo.sh``: everything but starting and stopping the emulator.

Subcommands (``demo.sh`` calls them in this order):

- ``wait-emulator STATE_DIR PID``: wait until the emulator started as PID wrote its manifest.
- ``env STATE_DIR``: print ``export`` lines for the connection and the Airflow Variables the
  example DAGs read (``AIRFLOW_CONN_...``, ``AIRFLOW_VAR_...``), for ``eval``.
- ``run STATE_DIR LOG_DIR``: run every example DAG end to end with ``airflow dags test`` (one
  subprocess each), check each DAG run's state in the metadata database, and print a summary:
  states, pipeline run ids and studio URLs, where the model and the predictions were written.
  The v2 example runs twice on the emulator's v2 side: a release that stays the default, then
  a trial of a second version that is rolled back. The own-component example runs on a
  pipeline component the demo first registers with Microsoft's ``MLClient`` (azure-ai-ml, in a
  venv of its own: ``.venv-ms-v2``, pinned by ``constraints/ms-client-v2.txt``), as a user
  would. Last, the asset pair runs on a real scheduler (``airflow standalone``, which
  ``airflow dags test`` cannot stand in for): ``example_mlpipelines_retrain_asset`` is triggered
  through the REST API, and its asset event starts ``example_mlpipelines_score_on_asset``.
  Exits 1 if any DAG run did not succeed.

The metadata database and the DAGs folder come from the environment ``demo.sh`` exports.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_FILE = "manifest.json"
CONN_ENV_VAR = "AIRFLOW_CONN_AZURE_ML_PIPELINES_DEFAULT"
#: The v2 example's own connection (``azure_ml_pipelines_v2``), on the same emulator.
V2_CONN_ENV_VAR = "AIRFLOW_CONN_AZURE_ML_PIPELINES_V2"
V2_DAG_ID = "example_mlpipelines_v2_batch_scoring"
OWN_DAG_ID = "example_mlpipelines_v2_own_component"
RETRAIN_ASSET_DAG_ID = "example_mlpipelines_retrain_asset"
SCORE_ON_ASSET_DAG_ID = "example_mlpipelines_score_on_asset"
#: Seconds the asset pair may take on the standalone scheduler, its start included.
ASSET_PAIR_SECONDS = 600
#: The pipeline endpoint the retraining adds its scoring versions to.
ASSET_ENDPOINT = "housing-assets"
ROOT = Path(__file__).resolve().parents[1]
# The demo drives Airflow and MLClient with the test suite's helpers (tests/e2e, tests/wire).
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
DATASTORE = "workspaceblobstore"
DAG_TIMEOUT_SECONDS = 240
#: A quick, under-trained retraining: the A/B trial of its model must roll it back.
RETRAINING_CONF = {"learning_rate": 0.05, "epochs": 20}
RETRAINING_DATE = "2026-01-05"
SCORING_DATE = "2026-01-02"
TRIAL_DATE = "2026-01-01"


@dataclass
class DagOutcome:
    """What one ``airflow dags test`` produced.

    :param dag_id: the DAG.
    :param state: the DAG run's final state (``missing`` if no run was recorded).
    :param seconds: how long the command took.
    :param log_file: the command's output.
    :param run_id: the Airflow DAG run id.
    :param xcoms: interesting XComs, ``task_id[.key]`` -> value.
    :param label: what this run of the DAG was, when the demo runs a DAG more than once.
    """

    dag_id: str
    state: str
    seconds: float
    log_file: Path
    run_id: str | None = None
    xcoms: dict[str, Any] = field(default_factory=dict)
    label: str = ""

    @property
    def succeeded(self) -> bool:
        return self.state == "success"

    @property
    def title(self) -> str:
        """The DAG id, and the label of this run if it has one."""
        return f"{self.dag_id} ({self.label})" if self.label else self.dag_id


# ------------------------------------------------------------------------------------ emulator
def read_manifest(state_dir: Path) -> dict[str, Any] | None:
    """The emulator's manifest, or ``None`` while it is not (completely) written.

    :param state_dir: the emulator's state dir.
    """
    try:
        return json.loads((state_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def wait_for_emulator(state_dir: Path, pid: int, timeout: float = 60.0) -> dict[str, Any]:
    """Wait until the emulator process ``pid`` has written its manifest; return it.

    :param state_dir: the emulator's state dir.
    :param pid: the emulator's process id (an older manifest from another process is ignored).
    :param timeout: seconds to wait.
    :raises SystemExit: the emulator did not become ready.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        manifest = read_manifest(state_dir)
        if manifest is not None and manifest.get("pid") == pid:
            return manifest
        if not Path(f"/proc/{pid}").exists() and sys.platform.startswith("linux"):
            raise SystemExit(f"the emulator (pid {pid}) exited before it was ready")
        time.sleep(0.1)
    raise SystemExit(f"the emulator (pid {pid}) was not ready after {timeout:g} s")


def environment(manifest: dict[str, Any]) -> dict[str, str]:
    """The connection and the Variables of the example DAGs, as environment variables.

    :param manifest: the emulator's manifest.
    """
    return {
        CONN_ENV_VAR: json.dumps(manifest["airflow_conn"]),
        "AIRFLOW_VAR_MLPIPELINES_TRAINING_RUN_ID": manifest["pipeline_runs"]["train"],
        "AIRFLOW_VAR_MLPIPELINES_SCORING_RUN_ID": manifest["pipeline_runs"]["score"],
        "AIRFLOW_VAR_MLPIPELINES_DATASTORE_DIR": manifest["datastores"][DATASTORE],
        V2_CONN_ENV_VAR: json.dumps(manifest["airflow_conn_v2"]),
        "AIRFLOW_VAR_MLPIPELINES_V2_SCORING_JOB": manifest["v2_pipeline_jobs"]["score"],
    }


# ------------------------------------------------------------------------------------ airflow
def run_dag_test(dag_id: str, logical_date: str, conf: dict[str, Any], log_file: Path) -> float:
    """Run ``airflow dags test`` for one DAG; its output goes to ``log_file``.

    :param dag_id: the DAG.
    :param logical_date: the run's logical date.
    :param conf: the run's conf.
    :param log_file: where the output goes.
    :return: seconds taken (the exit code is not trusted: the run's state is checked instead).
    """
    command = ["airflow", "dags", "test", dag_id, logical_date, "-c", json.dumps(conf)]
    print(f"==> {shlex.join(command)}", flush=True)
    started = time.monotonic()
    with log_file.open("wb") as output:
        try:
            subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=DAG_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            print(f"    {dag_id}: gave up after {DAG_TIMEOUT_SECONDS} s", flush=True)
    return time.monotonic() - started


def latest_dag_run(dag_id: str) -> tuple[str | None, str]:
    """The newest run of ``dag_id`` in the metadata database: ``(run_id, state)``.

    :param dag_id: the DAG.
    """
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc()).limit(1)
        dag_run = session.scalars(query).first()
        if dag_run is None:
            return None, "missing"
        return dag_run.run_id, str(getattr(dag_run.state, "value", dag_run.state))


def read_xcom(dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    """One XCom value of a DAG run (``None`` if the task pushed none).

    :param dag_id: the DAG.
    :param run_id: the DAG run.
    :param task_id: the task.
    :param key: the XCom key.
    """
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = XComModel.get_many(run_id=run_id, dag_ids=dag_id, task_ids=task_id, key=key)
        row = session.scalars(query).first()
        return None if row is None else row.value


def run_example(
    dag_id: str,
    logical_date: str,
    conf: dict[str, Any],
    log_dir: Path,
    xcom_keys: Sequence[str],
    *,
    label: str = "",
) -> DagOutcome:
    """Run one example DAG and collect its state and the XComs named by ``xcom_keys``.

    :param dag_id: the DAG.
    :param logical_date: the run's logical date.
    :param conf: the run's conf.
    :param log_dir: where the command's output goes.
    :param xcom_keys: ``task_id`` (its return value) or ``task_id.key`` entries to read; the
        last one is the DAG's final result, which a complete run must have produced.
    :param label: what this run is, for a DAG the demo runs more than once (names its log).
    """
    log_file = log_dir / (f"{dag_id}-{label}.log" if label else f"{dag_id}.log")
    seconds = run_dag_test(dag_id, logical_date, conf, log_file)
    run_id, state = latest_dag_run(dag_id)
    outcome = DagOutcome(dag_id, state, seconds, log_file, run_id, label=label)
    if run_id is not None:
        for entry in xcom_keys:
            task_id, _, key = entry.partition(".")
            outcome.xcoms[entry] = read_xcom(dag_id, run_id, task_id, key or "return_value")
    # A logical date before the DAG's start_date gives a "successful" run without any task.
    if outcome.succeeded and outcome.xcoms.get(xcom_keys[-1]) is None:
        outcome.state = f"success, but no result from {xcom_keys[-1]}"
    print(f"    {outcome.title}: {state} in {seconds:.0f} s", flush=True)
    if not outcome.succeeded:
        print(tail(outcome.log_file), flush=True)
    return outcome


def tail(path: Path, lines: int = 30) -> str:
    """The last lines of a log file, indented.

    :param path: the file.
    :param lines: how many.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(f"    | {line}" for line in text.splitlines()[-lines:])


def submit_outside_airflow(endpoint_name: str) -> str:
    """Submit a run with the hook, as another system would, for the sensor DAG to wait for.

    :param endpoint_name: the pipeline endpoint to run (its default version).
    :return: the run id.
    """
    from airflow_provider_mlpipelines.hooks.azure_ml_pipelines import AzureMLPipelinesHook

    # The hook's and azure-identity's INFO lines would interleave with the demo's own output.
    for name in ("azure", "airflow_provider_mlpipelines"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with AzureMLPipelinesHook() as hook:
        endpoint = hook.get_pipeline_endpoint(name=endpoint_name)
        submission = hook.build_submission(
            experiment_name="submitted-outside-airflow",
            parameters={"sleep_seconds": 3},
            tags={"submitted_by": "scripts/demo.py"},
        )
        run = hook.submit_pipeline_endpoint_run(endpoint.id, submission)
    print(f"    submitted pipeline run {run.id} outside Airflow", flush=True)
    return run.id


# ------------------------------------------------------------------------------------ the demo
def run_all(log_dir: Path, state_dir: Path) -> list[DagOutcome]:
    """Run the v1 example DAGs in an order where each finds what it needs, then the v2 ones.

    :param log_dir: where each command's output goes.
    :param state_dir: the emulator's state dir (its manifest, for ``MLClient``).
    """
    outcomes = []
    retraining = run_example(
        "example_mlpipelines_retraining",
        RETRAINING_DATE,
        RETRAINING_CONF,
        log_dir,
        ["train", "train.run_url", "add_to_training_endpoint", "report_model"],
    )
    outcomes.append(retraining)
    outcomes.append(
        run_example(
            "example_mlpipelines_batch_scoring",
            SCORING_DATE,
            {},
            log_dir,
            ["score", "score.run_url", "check_predictions"],
        )
    )
    model = (retraining.xcoms.get("report_model") or {}).get("model_path")
    trial_conf: dict[str, Any] = {"candidate_label": "demo-candidate", "scoring_date": TRIAL_DATE}
    if model:
        trial_conf["candidate_model"] = model_relative_path(model)
    outcomes.append(
        run_example(
            "example_mlpipelines_endpoint_versions",
            TRIAL_DATE,
            trial_conf,
            log_dir,
            [
                "make_candidate_default",
                "score_with_candidate",
                "score_with_candidate.run_url",
                "score_with_previous_default",
                "score_with_previous_default.run_url",
                "roll_back_default_version",
                "compare_predictions",
            ],
        )
    )
    external_run = submit_or_none(lambda: submit_outside_airflow("housing-training"))
    if external_run is not None:
        outcomes.append(
            run_example(
                "example_mlpipelines_sensor",
                TRIAL_DATE,
                {"run_id": external_run},
                log_dir,
                ["wait_for_run.run_url", "summarize_run"],
            )
        )
    else:
        outcomes.append(DagOutcome("example_mlpipelines_sensor", "not run", 0.0, Path()))
    outcomes += run_v2_example(log_dir)
    component = submit_or_none(
        lambda: register_own_component(state_dir), "register the own component"
    )
    if component is not None:
        outcomes.append(
            run_example(
                OWN_DAG_ID,
                SCORING_DATE,
                {"component": component},
                log_dir,
                ["deploy_component", "train", "train.run_url", "check_training_job"],
            )
        )
    else:
        outcomes.append(DagOutcome(OWN_DAG_ID, "not run", 0.0, Path()))
    outcomes += run_asset_pair(log_dir)
    return outcomes


def run_asset_pair(log_dir: Path) -> list[DagOutcome]:
    """The asset pair on ``airflow standalone``: retraining triggered through the REST API,
    scoring started by the scheduler for its asset event.

    :param log_dir: where the standalone's output goes (``asset-pair/standalone.log``).
    """
    from airflow_provider_mlpipelines._compat import AIRFLOW_V_3
    from tests.e2e.airflow_standalone import AirflowStandalone

    home = log_dir / "asset-pair"
    dags = home / "dags"
    dags.mkdir(parents=True, exist_ok=True)
    for dag_id in (RETRAIN_ASSET_DAG_ID, SCORE_ON_ASSET_DAG_ID):
        (dags / f"{dag_id}.py").symlink_to(ROOT / "dags_examples" / f"{dag_id}.py")
    airflow = AirflowStandalone(home, dags, {}, ASSET_PAIR_SECONDS, schedule=True)
    log_file = airflow.log_file
    retrain = DagOutcome(RETRAIN_ASSET_DAG_ID, "not run", 0.0, log_file)
    score = DagOutcome(SCORE_ON_ASSET_DAG_ID, "not run", 0.0, log_file, label="asset-triggered")
    print("    starting airflow standalone for the asset pair", flush=True)
    try:
        with airflow:
            airflow.wait_for_api(timeout=240)
            api = airflow.api()
            for dag_id in (RETRAIN_ASSET_DAG_ID, SCORE_ON_ASSET_DAG_ID):
                api.wait_for_dag(dag_id, timeout=180)
                api.unpause(dag_id)
            started = time.monotonic()
            run = api.trigger(RETRAIN_ASSET_DAG_ID, None, {"endpoint_name": ASSET_ENDPOINT})
            retrain.run_id = run["dag_run_id"]
            retrain.state = api.wait_for_run(RETRAIN_ASSET_DAG_ID, run["dag_run_id"], 300)["state"]
            retrain.seconds = time.monotonic() - started
            for key in ("train", "add_scoring_version"):
                retrain.xcoms[key] = api.xcom(RETRAIN_ASSET_DAG_ID, run["dag_run_id"], key)
            print(f"    {retrain.title}: {retrain.state} in {retrain.seconds:.0f} s", flush=True)
            if retrain.succeeded:
                started = time.monotonic()
                kind = "asset_triggered" if AIRFLOW_V_3 else "dataset_triggered"
                triggered = wait_for_triggered_run(api, SCORE_ON_ASSET_DAG_ID, kind, 240)
                score.run_id = triggered["dag_run_id"]
                score.state = api.wait_for_run(SCORE_ON_ASSET_DAG_ID, score.run_id, 300)["state"]
                score.seconds = time.monotonic() - started
                for key in ("new_model_version", "score"):
                    score.xcoms[key] = api.xcom(SCORE_ON_ASSET_DAG_ID, score.run_id, key)
                score.xcoms["score.run_url"] = api.xcom(
                    SCORE_ON_ASSET_DAG_ID, score.run_id, "score", "run_url"
                )
                print(f"    {score.title}: {score.state} in {score.seconds:.0f} s", flush=True)
    except Exception as exc:  # the demo reports every failure in its summary
        print(f"    the asset pair did not complete: {exc}", flush=True)
        for outcome in (retrain, score):
            if outcome.state in ("not run", "running", "queued"):
                outcome.state = f"not completed ({type(exc).__name__})"
    return [retrain, score]


def wait_for_triggered_run(api: Any, dag_id: str, kind: str, timeout: float) -> dict[str, Any]:
    """The first run of ``dag_id`` the scheduler created for an asset event.

    :param api: the standalone's REST client.
    :param dag_id: the DAG scheduled on the asset.
    :param kind: the run type (``asset_triggered``; Airflow 2.11: ``dataset_triggered``).
    :param timeout: seconds to wait.
    :raises TimeoutError: no such run.
    """
    deadline = time.monotonic() + timeout
    while True:
        runs = api.call("GET", f"/dags/{dag_id}/dagRuns")["dag_runs"]
        found = [run for run in runs if run["run_type"] == kind]
        if found:
            return dict(found[0])
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {kind} run of {dag_id} after {timeout:g} s")
        time.sleep(2)


def register_own_component(state_dir: Path) -> str:
    """Register ``dags_examples/v2_own_pipeline/pipeline.yml`` with Microsoft's ``MLClient``.

    :param state_dir: the emulator's state dir (its manifest names the workspace and identity).
    :return: the component as the own-component example takes it (``azureml:name:version``).
    """
    from tests.wire.own_component import as_azureml_id
    from tests.wire.own_component import register_own_component as register

    print("    registering the own component with MLClient (.venv-ms-v2, made once)", flush=True)
    component = as_azureml_id(register(state_dir / MANIFEST_FILE))
    print(f"    registered {component} with MLClient", flush=True)
    return component


def run_v2_example(log_dir: Path) -> list[DagOutcome]:
    """The v2 example twice: a release of version 1 behind a new batch endpoint (it stays the
    default), then a trial of version 2 (scored, then the default is rolled back to 1).

    :param log_dir: where each command's output goes.
    """
    keys = [
        "deploy_new_version",
        "score",
        "score.run_url",
        "roll_back_default",
        "check_scoring_job",
    ]
    release = {"component_version": "1", "scoring_date": SCORING_DATE}
    trial = {"component_version": "2", "scoring_date": TRIAL_DATE, "keep_new_version": False}
    return [
        run_example(V2_DAG_ID, SCORING_DATE, release, log_dir, keys, label="release"),
        run_example(V2_DAG_ID, RETRAINING_DATE, trial, log_dir, keys, label="trial"),
    ]


def model_relative_path(model_path: str) -> str:
    """A model's path relative to the datastore (``models/<run id>/model.json``).

    :param model_path: the absolute path that ``report_model`` returned.
    """
    parts = Path(model_path).parts
    return "/".join(parts[parts.index("models") :]) if "models" in parts else model_path


def submit_or_none(
    submit: Callable[[], str], what: str = "submit a run outside Airflow"
) -> str | None:
    """Run ``submit``; print the error and return ``None`` if it fails.

    :param submit: what submits the run (or registers what a DAG needs).
    :param what: what it does, for the error line.
    """
    try:
        return submit()
    except Exception as exc:  # the demo reports every failure in its summary
        print(f"    could not {what}: {exc}", flush=True)
        return None


# ------------------------------------------------------------------------------------ summary
def describe(outcome: DagOutcome) -> list[str]:
    """Readable lines about one DAG's outcome: its runs, their studio URLs, its outputs.

    :param outcome: the DAG's outcome.
    """
    x = outcome.xcoms
    lines = [f"{outcome.title}: {outcome.state.upper()} ({outcome.seconds:.0f} s)"]
    if outcome.dag_id == V2_DAG_ID:
        lines += v2_lines(x)
    elif outcome.dag_id == OWN_DAG_ID:
        lines += own_component_lines(x)
    elif outcome.dag_id in (RETRAIN_ASSET_DAG_ID, SCORE_ON_ASSET_DAG_ID):
        lines += asset_pair_lines(outcome.dag_id, x)
    elif outcome.dag_id.endswith("_retraining"):
        lines += run_lines("training run", x.get("train"), x.get("train.run_url"))
        endpoint = x.get("add_to_training_endpoint") or {}
        if endpoint:
            lines.append(
                f"  endpoint default version: {endpoint.get('default_version')} "
                f"(previous: {endpoint.get('previous_default_version')})"
            )
        report = x.get("report_model") or {}
        if report:
            lines.append(
                f"  model: {report.get('model_path')} (validation r2 {report.get('r2'):.3f})"
            )
    elif outcome.dag_id.endswith("_batch_scoring"):
        lines += run_lines("scoring run", x.get("score"), x.get("score.run_url"))
        check = x.get("check_predictions") or {}
        if check:
            lines.append(
                f"  predictions: {check.get('predictions')} ({check.get('rows')} rows, "
                f"mean {check.get('mean_prediction')})"
            )
    elif outcome.dag_id.endswith("_endpoint_versions"):
        lines += trial_lines(x)
    elif outcome.dag_id.endswith("_sensor"):
        summary = x.get("summarize_run") or {}
        if summary:
            lines += run_lines("watched run", summary.get("run_id"), summary.get("run_url"))
            lines.append(f"  status {summary.get('status')}, steps {summary.get('steps')}")
    if not outcome.succeeded and outcome.log_file != Path():
        lines.append(f"  log: {outcome.log_file}")
    return lines


def run_lines(label: str, run_id: Any, url: Any) -> list[str]:
    """One pipeline run's id and studio URL.

    :param label: what the run was.
    :param run_id: its id.
    :param url: its studio URL.
    """
    if not run_id:
        return []
    return [f"  {label}: {run_id}", f"    {url}"]


def v2_lines(x: dict[str, Any]) -> list[str]:
    """What a run of the v2 example deployed, scored, checked and rolled back.

    :param x: its XComs.
    """
    lines = []
    deployed = x.get("deploy_new_version") or {}
    if deployed:
        endpoint = str(deployed.get("endpoint_id") or "").rsplit("/", 1)[-1]
        lines.append(
            f"  batch endpoint {endpoint}: deployment {deployed.get('version')} "
            f"(previous default {deployed.get('previous_default_version')})"
        )
    lines += run_lines("scoring job", x.get("score"), x.get("score.run_url"))
    check = x.get("check_scoring_job") or {}
    if check:
        lines.append(
            f"  checked through the service: {check.get('status')}, run by "
            f"{check.get('deployment')}, steps {check.get('steps')}"
        )
        lines.append(
            f"  predictions: {check.get('predictions')} ({check.get('rows')} rows, mean "
            f"{check.get('mean_prediction')})"
        )
    restored = x.get("roll_back_default")
    if restored:
        lines.append(f"  rolled back: the default deployment is {restored} again")
    elif check:
        lines.append(f"  kept {deployed.get('version')} as the default deployment")
    return lines


def own_component_lines(x: dict[str, Any]) -> list[str]:
    """What the own-component example deployed, ran and found.

    :param x: its XComs.
    """
    lines = []
    deployed = x.get("deploy_component") or {}
    if deployed:
        endpoint = str(deployed.get("endpoint_id") or "").rsplit("/", 1)[-1]
        lines.append(f"  batch endpoint {endpoint}: deployment {deployed.get('version')}")
    lines += run_lines("training job", x.get("train"), x.get("train.run_url"))
    check = x.get("check_training_job") or {}
    if check:
        lines.append(f"  your steps ran: {check.get('steps')}")
        lines.append(f"  model: {check.get('model_path')} ({check.get('rows')} rows)")
    return lines


def asset_pair_lines(dag_id: str, x: dict[str, Any]) -> list[str]:
    """What the retraining announced, or what the scoring its asset event started did.

    :param dag_id: which DAG of the pair.
    :param x: its XComs.
    """
    if dag_id == RETRAIN_ASSET_DAG_ID:
        added = x.get("add_scoring_version") or {}
        lines = [f"  training run: {x.get('train')}"] if x.get("train") else []
        if added:
            lines.append(
                f"  emitted the model asset: scoring version {added.get('version')} of endpoint "
                f"{ASSET_ENDPOINT} (default version {added.get('default_version')})"
            )
        return lines
    named = x.get("new_model_version") or {}
    lines = []
    if named:
        lines.append(
            f"  started by the asset event, scored with endpoint {named.get('endpoint')} "
            f"version {named.get('version')}"
        )
    return lines + run_lines("scoring run", x.get("score"), x.get("score.run_url"))


def trial_lines(x: dict[str, Any]) -> list[str]:
    """What the A/B trial of the endpoint-versions DAG found and decided.

    :param x: its XComs.
    """
    endpoint = x.get("make_candidate_default") or {}
    lines = []
    if endpoint:
        lines.append(
            f"  candidate: version {endpoint.get('version')} "
            f"(previous default {endpoint.get('previous_default_version')})"
        )
    lines += run_lines(
        "candidate run", x.get("score_with_candidate"), x.get("score_with_candidate.run_url")
    )
    lines += run_lines(
        "previous-default run",
        x.get("score_with_previous_default"),
        x.get("score_with_previous_default.run_url"),
    )
    comparison = x.get("compare_predictions") or {}
    if comparison:
        lines.append(
            f"  mean relative change of the predictions: "
            f"{comparison.get('mean_relative_change', 0):.1%} over {comparison.get('rows')} rows"
        )
        lines.append(f"  predictions: {comparison.get('candidate_predictions')}")
        lines.append(f"               {comparison.get('reference_predictions')}")
    restored = x.get("roll_back_default_version")
    if restored:
        lines.append(f"  rolled back: the default version is {restored} again")
    elif comparison:
        lines.append("  kept the candidate as the default version")
    return lines


def print_summary(outcomes: Sequence[DagOutcome], manifest: dict[str, Any]) -> None:
    """Print the demo's summary.

    :param outcomes: each DAG's outcome.
    :param manifest: the emulator's manifest.
    """
    print("\n" + "=" * 30 + " summary " + "=" * 30)
    for outcome in outcomes:
        print("\n".join(describe(outcome)))
    print(f"datastore {DATASTORE}: {manifest['datastores'][DATASTORE]}")
    failed = [o.title for o in outcomes if not o.succeeded]
    print(f"{len(outcomes) - len(failed)} of {len(outcomes)} DAG runs succeeded", flush=True)
    if failed:
        print(f"FAILED: {', '.join(failed)}", flush=True)


# ------------------------------------------------------------------------------------ CLI
def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    wait = sub.add_parser("wait-emulator", help="wait for the emulator's manifest")
    wait.add_argument("state_dir", type=Path)
    wait.add_argument("pid", type=int)
    env = sub.add_parser("env", help="print export lines for the connection and Variables")
    env.add_argument("state_dir", type=Path)
    run = sub.add_parser("run", help="run every example DAG and print a summary")
    run.add_argument("state_dir", type=Path)
    run.add_argument("log_dir", type=Path)
    return parser


def interrupt(signum: int, frame: Any) -> None:
    """Turn a termination signal into KeyboardInterrupt, so that cleanups run."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand.

    :param argv: the arguments (``sys.argv[1:]`` when ``None``).
    """
    args = build_parser().parse_args(argv)
    # demo.sh stops a step with SIGTERM; as KeyboardInterrupt it also ends the running
    # `airflow dags test` (subprocess.run kills its child when interrupted).
    signal.signal(signal.SIGTERM, interrupt)
    if args.command == "wait-emulator":
        manifest = wait_for_emulator(args.state_dir, args.pid)
        print(f"emulator ready at {manifest['base_url']} (state dir {args.state_dir})")
        return 0
    manifest = read_manifest(args.state_dir)
    if manifest is None:
        raise SystemExit(f"no emulator manifest in {args.state_dir}")
    if args.command == "env":
        for name, value in environment(manifest).items():
            print(f"export {name}={shlex.quote(value)}")
        return 0
    args.log_dir.mkdir(parents=True, exist_ok=True)
    try:
        outcomes = run_all(args.log_dir, args.state_dir)
    except KeyboardInterrupt:
        print("interrupted: the running `airflow dags test` was stopped", flush=True)
        return 130
    print_summary(outcomes, manifest)
    return 0 if all(o.succeeded for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
