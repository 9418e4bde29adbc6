"""Drive run history's ``runs:query`` with azureml-core's own ``ExperimentClient``.

Run by ``test_ms_runs_query.py`` with the interpreter of ``.venv-ms-v1`` (azureml-core 1.61,
pinned by ``constraints/ms-client-v1.txt``), never the Airflow one::

    .venv-ms-v1/bin/python tests/wire/ms_runs_query_driver.py MANIFEST PLAN

``PLAN`` is a JSON file the test writes: the experiment and the runs it submitted there, the
page size, a time to filter on, and the v2 jobs of another experiment. Nothing of this project
is imported and nothing of the SDK is patched: the client is built as ``Run.list`` and
``Experiment`` build it (a ``ServiceContext`` that finds run history through the workspace's
discovery URL, an ``ArmTokenAuthentication`` holding a token of the emulator's), and the calls
are the SDK's (``get_runs_by_run_ids``, and ``get_runs`` with the filters ``Run.list`` passes),
whose continuation-token loop pages through the answers.

Prints one JSON line per operation, ``{"op": ..., "runs": [[id, status, parent], ...],
"requests": N}``, where ``requests`` is how many ``runs:query`` requests the emulator counted for
it (``/_emulator/stats``); on the first failure it prints ``{"op": ..., "error": ...}`` and
exits with 1.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from ms_v1_client import ClientSession, WireMismatch, expect, unknown_fields

#: The emulator's ``/_emulator/stats`` name of ``runs:query``.
QUERY_ROUTE = "query runs"


class QueryDriver:
    """azureml-core's run-history client on one emulator, one printed line per operation.

    :param manifest: the emulator's manifest document.
    :param plan: what the test submitted and wants read back.
    """

    def __init__(self, manifest: dict[str, Any], plan: dict[str, Any]) -> None:
        self.manifest = manifest
        self.plan = plan
        self.op = "token"
        session = ClientSession(manifest)
        session.acquire_token()
        token = session.headers["Authorization"].removeprefix("Bearer ")

        from azureml._restclient.service_context import ServiceContext
        from azureml.core.authentication import ArmTokenAuthentication

        self.context = ServiceContext(
            manifest["subscription_id"],
            manifest["resource_group"],
            manifest["workspace_name"],
            manifest["workspace_name"],
            manifest["discovery_url"],
            ArmTokenAuthentication(token, cloud="AzureCloud"),
        )

    def client(self, experiment: str) -> Any:
        from azureml._restclient.experiment_client import ExperimentClient

        return ExperimentClient(self.context, experiment)

    def queries(self) -> int:
        stats = requests.get(
            self.manifest["base_url"] + "/_emulator/stats",
            headers=self.plan["admin_headers"],
            verify=self.manifest["ca_bundle"],
            timeout=30,
        ).json()
        return int(stats["requests"].get(QUERY_ROUTE, 0))

    def read(self, op: str, experiment: str, method: str, **kwargs: Any) -> None:
        """Call ``ExperimentClient.<method>(**kwargs)`` and print the runs it yields.

        :param op: the operation's name in the output.
        :param experiment: the experiment to read.
        :param method: ``get_runs_by_run_ids`` or ``get_runs``.
        :param kwargs: the method's arguments.
        """
        self.op = op
        before = self.queries()
        runs = list(getattr(self.client(experiment), method)(**kwargs))
        rows = [[run.run_id, run.status, run.parent_run_id] for run in runs]
        expect(all(run.created_utc is not None for run in runs), f"{op}: a run has no createdUtc")
        print(json.dumps({"op": op, "runs": rows, "requests": self.queries() - before}), flush=True)

    def raw_page(self) -> None:
        """One page through the generated method, its JSON checked against azureml-core's
        ``PaginatedRunDto`` and ``RunDto`` models."""
        self.op = "raw_page"
        from azureml._restclient import models

        classes = {name: cls for name, cls in vars(models).items() if isinstance(cls, type)}
        client = self.client(self.plan["experiment"])
        answer = client._client.run.get_by_query(
            self.manifest["subscription_id"],
            self.manifest["resource_group"],
            self.manifest["workspace_name"],
            self.plan["experiment"],
            query_params=models.QueryParamsDto(
                filter=" or ".join(f"RunId eq {run_id}" for run_id in self.plan["run_ids"]),
                orderby="RunId desc",
                top=2,
            ),
            raw=True,
        )
        body = answer.response.json()
        # azureml-core 1.61's PaginatedRunDto declares value and continuationToken only; the
        # emulator's nextLink is always null, which msrest drops.
        expect(body.pop("nextLink", None) is None, f"nextLink {body.get('nextLink')!r}")
        problems = unknown_fields(body, "PaginatedRunDto", "PaginatedRunDto", classes)
        expect(not problems, "; ".join(problems))
        page = answer.output
        expect(len(page.value) == 2, f"{len(page.value)} runs on a page of top=2")
        expect(bool(page.continuation_token), "no continuationToken on a first page of two")
        print(json.dumps({"op": "raw_page", "keys": sorted(body["value"][0])}), flush=True)

    def refused(self) -> None:
        """A filter the emulator cannot parse: the SDK raises its ``ErrorResponseException``
        (from the page loop, so not wrapped in its ``ServiceException``)."""
        self.op = "refused"
        from azureml._restclient.models import ErrorResponseException

        try:
            list(self.client(self.plan["experiment"]).get_runs_by_run_ids(run_ids=["a b"]))
        except ErrorResponseException as error:
            root = error.error.error if error.error else None
            line = {
                "op": "refused",
                "status": error.response.status_code,
                "code": root.code if root else None,
                "message": root.message if root else str(error),
            }
            print(json.dumps(line), flush=True)
            return
        raise WireMismatch("a filter naming the id 'a b' was answered")

    def walk(self) -> None:
        """Every operation, in order."""
        plan, experiment = self.plan, self.plan["experiment"]
        size = plan["page_size"]
        self.read(
            "by_ids", experiment, "get_runs_by_run_ids", run_ids=plan["run_ids"], page_size=size
        )
        # As Run.list(experiment, status=..., tags=..., type=..., include_children=...) asks.
        self.read("failed", experiment, "get_runs", status="Failed", include_children=False)
        self.read(
            "tag_value",
            experiment,
            "get_runs",
            page_size=size,
            tags={"team": "ml"},
            include_children=False,
        )
        self.read("tag_exists", experiment, "get_runs", tags="team", include_children=True)
        self.read(
            "step_runs", experiment, "get_runs", runtype="azureml.StepRun", include_children=True
        )
        after = datetime.fromisoformat(plan["created_after"])
        self.read(
            "created_after", experiment, "get_runs", created_after=after, include_children=False
        )
        self.read(
            "v2_jobs",
            plan["v2_experiment"],
            "get_runs_by_run_ids",
            run_ids=plan["v2_jobs"],
            page_size=1,
        )
        self.raw_page()
        self.refused()


def main(argv: list[str]) -> int:
    """Read the runs of the plan ``argv[2]`` from the emulator of manifest ``argv[1]``.

    :param argv: the command line.
    """
    if len(argv) != 3:
        print(f"usage: {argv[0]} MANIFEST PLAN", file=sys.stderr)
        return 2
    manifest = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    plan = json.loads(Path(argv[2]).read_text(encoding="utf-8"))
    # Discovery and run history are reached by requests and msrest, which verify TLS
    # against this bundle.
    os.environ["REQUESTS_CA_BUNDLE"] = manifest["ca_bundle"]
    driver: QueryDriver | None = None
    try:
        driver = QueryDriver(manifest, plan)
        driver.walk()
    except Exception as error:  # every failure is reported as the line of its operation
        op = driver.op if driver is not None else "token"
        print(json.dumps({"op": op, "error": f"{type(error).__name__}: {error}"}), flush=True)
        return 1
    print(json.dumps({"op": "done"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
