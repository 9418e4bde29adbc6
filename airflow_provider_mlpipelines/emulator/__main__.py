"""Command line of the emulator: ``python -m airflow_provider_mlpipelines.emulator``.

Also installed as the ``mlpipelines-emulator`` console script.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from airflow_provider_mlpipelines.emulator import run_query
from airflow_provider_mlpipelines.emulator.datastores import add_data_flags
from airflow_provider_mlpipelines.emulator.v2.behaviour import (
    CANCELS_ENDED,
    INVOKE_DISPLAY_NAMES,
    INVOKE_EXPERIMENTS,
    INVOKE_JOB_NAMES,
    INVOKE_REPEATABILITIES,
    V2Behaviour,
)
from airflow_provider_mlpipelines.emulator.v2.budget import (
    add_arm_budget_flags,
    arm_budget_from_args,
)

DESCRIPTION = """\
Local emulator of the Azure ML SDK v1 pipelines service (published pipelines, pipeline
endpoints, runs, run history) with an Entra-compatible token endpoint, served over HTTPS.
Pipeline steps run for real as local subprocesses (or as timers, for simulated steps).

When it is ready it writes STATE_DIR/manifest.json (base URL, credentials, CA bundle, ids of
runs to publish from, and a ready-made Airflow connection) and serves it at
GET /_emulator/manifest. SIGTERM or SIGINT stops it gracefully: running steps are killed and
the state is saved; a later start on the same state dir keeps everything (runs left in flight
end Failed). Restart with the same --port so clients reconnect.

Fault injection (the --fault-* flags, or at run time POST /_emulator/admin/faults with the
same settings as JSON: error_rate, throttle_rate, drop_rate, drop_mode, retry_after_seconds,
latency_seconds, fail_next, fail_status, path_contains, token_endpoint, seed, error_mode,
list_delay_seconds, runs_page_size, outage_seconds) hits the
service APIs (/pipelines/..., /history/...), never /_emulator/* routes, discovery or studio
pages; the token endpoint only with --fault-token-endpoint. Injected faults are counted in
GET /_emulator/stats ("faults"; a dropped connection counts as response status 444).
A network outage (outage_seconds N, --fault-outage-seconds) resets the connection of every
request but /_emulator/* for N seconds, token endpoint included, while runs keep executing.
Token lifetime can be changed at run time: POST /_emulator/admin/tokens
{"lifetime_seconds": N}. GET /_emulator/admin/tokens lists the tokens issued since start
(a test aid for leak checks).

Every /_emulator/* route, the manifest included, answers only requests with the header
X-Emulator-Admin-Key set to the content of STATE_DIR/admin-key (made at first start, mode
0600, kept on restart), on loopback as on any other address; without it 401, wrong 403.
The state dir (0700 when created here), its secrets and the TLS keys are the owner's only.
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the CLI."""
    parser = argparse.ArgumentParser(
        prog="mlpipelines-emulator",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="TCP port to serve HTTPS on; 0 (the default) picks a free port, written to the "
        "manifest as base_url.",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        required=True,
        help="Folder for all state: the SQLite state file, the TLS CA (ca.pem) and server "
        "certificate, datastore folders, run working folders and logs, manifest.json. Created "
        "if missing; reusing it keeps pipelines, endpoints, tokens and runs.",
    )
    parser.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="Workspace spec (YAML, or JSON by the .json suffix) declaring the identity, "
        "datastores, datasets and pipelines. Default: the shipped example workspace "
        "(pipelines train, score and simulated).",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="Address to listen on (default 127.0.0.1). The certificate covers 127.0.0.1, "
        "localhost, ::1 and this host.",
    )
    parser.add_argument(
        "--advertise-url",
        default=None,
        metavar="URL",
        help="Base URL that clients on other machines use, e.g. https://emulator.internal "
        "(the listening port is added when the URL has none). Written to the manifest and "
        "the connection; the certificate also names its host. Use with --host 0.0.0.0 or an "
        "address other machines reach. Default: the --host address.",
    )
    parser.add_argument(
        "--token-lifetime",
        type=int,
        default=3600,
        metavar="SECONDS",
        help="Lifetime of issued access tokens in seconds (default 3600). Short values test "
        "token renewal.",
    )
    parser.add_argument(
        "--max-processes",
        type=int,
        default=8,
        metavar="N",
        help="Real (subprocess) steps running at once; further steps wait in state Queued "
        "(default 8). Simulated steps are not limited.",
    )
    parser.add_argument(
        "--lro-seconds",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="How long a v2 long-running operation (endpoint or deployment PUT/DELETE, job "
        "cancel) stays in progress (Updating) before it completes (default 1).",
    )
    _add_behaviour_flags(parser)
    _add_fault_flags(parser)
    _add_identity_flags(parser)
    run_query.add_flags(parser)
    add_arm_budget_flags(parser)
    add_data_flags(parser)
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="Logging level of the emulator's stderr log (default INFO; DEBUG adds an access "
        "log of every request).",
    )
    return parser


def _add_behaviour_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "v2 behaviour",
        "What the real service does where no evidence settles it (docs/emulator.md, Unknowns).",
    )
    group.add_argument(
        "--invoke-job-name",
        choices=INVOKE_JOB_NAMES,
        default="ignore",
        help="An invoke's requested job name (properties.name) is ignored, as recorded, and the "
        "service names the job (default), or honoured.",
    )
    group.add_argument(
        "--invoke-display-name",
        choices=INVOKE_DISPLAY_NAMES,
        default="requested",
        help="An ignored requested name becomes the job's display name (default), or the "
        "service makes one up.",
    )
    group.add_argument(
        "--invoke-experiment",
        choices=INVOKE_EXPERIMENTS,
        default="requested",
        help="The job's experiment is the requested one (default), or the endpoint's name.",
    )
    group.add_argument(
        "--cancel-ended",
        choices=CANCELS_ENDED,
        default="refuse",
        help="A cancel of a job that has ended is refused, 400 UserError (default), or "
        "answered as done.",
    )
    group.add_argument(
        "--lro-retry-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="Send Retry-After on long-running operations' answers (default: none, as every "
        "recorded answer).",
    )
    group.add_argument(
        "--invoke-repeatability",
        choices=INVOKE_REPEATABILITIES,
        default="ignore",
        help="A resent repeatability_request-id creates another job (default), or answers the "
        "first one.",
    )


def _add_fault_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "fault injection", "Starting fault settings; change them later via the admin route."
    )
    group.add_argument(
        "--fault-error-rate",
        type=float,
        default=0.0,
        metavar="RATE",
        help="Fraction (0-1) of service API requests answered 503 (default 0).",
    )
    group.add_argument(
        "--fault-throttle-rate",
        type=float,
        default=0.0,
        metavar="RATE",
        help="Fraction (0-1) of service API requests answered 429 with Retry-After (default 0).",
    )
    group.add_argument(
        "--fault-retry-after",
        type=int,
        default=1,
        metavar="SECONDS",
        help="Retry-After value of throttled answers (default 1).",
    )
    group.add_argument(
        "--fault-drop-rate",
        type=float,
        default=0.0,
        metavar="RATE",
        help="Fraction (0-1) of service API requests whose connection is closed without an "
        "answer (default 0).",
    )
    group.add_argument(
        "--fault-drop-mode",
        choices=["before", "after"],
        default="before",
        help="Drop the connection before the request is handled (nothing happens) or after "
        "it was handled (it took effect, the client never hears) (default before).",
    )
    group.add_argument(
        "--fault-latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="Delay added to every service API request (default 0).",
    )
    group.add_argument(
        "--fault-queue-seconds",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="How long each new run stays NotStarted before its first step starts, as while "
        "a compute cluster scales up (default 0).",
    )
    group.add_argument(
        "--fault-seed",
        type=int,
        default=None,
        metavar="N",
        help="Seed of the fault draws, for reproducible runs (default: random).",
    )
    group.add_argument(
        "--fault-error-mode",
        choices=("before", "after"),
        default="before",
        help="before: 503 answers replace handling; after: the request is handled (e.g. the "
        "run is created), then answered 503 all the same (default before).",
    )
    group.add_argument(
        "--fault-list-delay-seconds",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="A new run appears in its pipeline's runs list only this long after it was "
        "created, as with a list that is not consistent at once (default 0).",
    )
    group.add_argument(
        "--fault-runs-page-size",
        type=int,
        default=0,
        metavar="N",
        help="Answer runs lists in pages of N runs with a continuation token (default 0: one "
        "bare array, as the contract documents).",
    )
    group.add_argument(
        "--fault-outage-seconds",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="A network outage from start: for this long every request but /_emulator/* has "
        "its connection reset, while runs keep executing (default 0).",
    )
    group.add_argument(
        "--fault-token-endpoint",
        action="store_true",
        help="Apply the faults to the token endpoint too (a real Entra ID endpoint also "
        "throttles and fails; azure-identity retries). Off by default.",
    )


def _add_identity_flags(parser: argparse.ArgumentParser) -> None:
    from airflow_provider_mlpipelines.api.clouds import CLOUDS, DEFAULT_CLOUD

    group = parser.add_argument_group(
        "clouds and identities",
        "Which audiences tokens are issued for, and who besides the service principal may "
        "obtain them. All of it is written to the manifest.",
    )
    group.add_argument(
        "--cloud",
        choices=sorted(CLOUDS),
        default=DEFAULT_CLOUD,
        help="Azure cloud to emulate: tokens are issued only for its audiences (e.g. "
        "https://management.chinacloudapi.cn for AzureChinaCloud); a scope of another cloud "
        "gets AADSTS500011, as from Entra ID. The manifest's connection names the cloud "
        "(default AzureCloud).",
    )
    group.add_argument(
        "--token-audience",
        action="append",
        default=[],
        metavar="URL",
        help="Accept this audience instead of the cloud's (repeatable), e.g. "
        "https://management.azure.com.",
    )
    group.add_argument(
        "--managed-identity-client-id",
        action="append",
        default=[],
        metavar="CLIENT_ID",
        help="Client id of a user-assigned managed identity served by the App Service-style "
        "managed identity endpoint GET /msi/token (repeatable). Without client_id a request "
        "gets the system-assigned identity. Clients set IDENTITY_ENDPOINT and IDENTITY_HEADER "
        "to the manifest's managed_identity endpoint and header.",
    )
    group.add_argument(
        "--federated-credential",
        action="append",
        nargs=3,
        default=[],
        metavar=("CLIENT_ID", "ISSUER", "SUBJECT"),
        help="A federated identity credential (workload identity): the token endpoint accepts "
        "a client_assertion JWT for CLIENT_ID whose iss and sub are ISSUER and SUBJECT and "
        "whose aud is api://AzureADTokenExchange (repeatable). Only iss, sub, aud and exp are "
        "checked, not the signature.",
    )


def _identity_settings(args: argparse.Namespace) -> dict[str, object]:
    from airflow_provider_mlpipelines.emulator.identities import FederatedCredential

    return {
        "cloud": args.cloud,
        "token_audiences": tuple(url.rstrip("/") for url in args.token_audience),
        "managed_identity_client_ids": tuple(args.managed_identity_client_id),
        "federated_credentials": tuple(
            FederatedCredential(client_id, issuer, subject)
            for client_id, issuer, subject in args.federated_credential
        ),
    }


def _fault_settings(args: argparse.Namespace) -> dict[str, object]:
    return {
        "error_rate": args.fault_error_rate,
        "throttle_rate": args.fault_throttle_rate,
        "retry_after_seconds": args.fault_retry_after,
        "drop_rate": args.fault_drop_rate,
        "drop_mode": args.fault_drop_mode,
        "latency_seconds": args.fault_latency,
        "queue_seconds": args.fault_queue_seconds,
        "seed": args.fault_seed,
        "token_endpoint": args.fault_token_endpoint,
        "error_mode": args.fault_error_mode,
        "list_delay_seconds": args.fault_list_delay_seconds,
        "runs_page_size": args.fault_runs_page_size,
        "outage_seconds": args.fault_outage_seconds,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until it is signalled to stop.

    :param argv: the arguments (``sys.argv[1:]`` when ``None``).
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.token_lifetime < 1:
        build_parser().error("--token-lifetime must be at least 1 second")
    if args.max_processes < 1:
        build_parser().error("--max-processes must be at least 1")
    advertised = urlsplit(args.advertise_url) if args.advertise_url else None
    if advertised and (advertised.scheme != "https" or not advertised.hostname):
        build_parser().error(
            f"--advertise-url must be https://HOST[:PORT], not {args.advertise_url!r}"
        )
    from airflow_provider_mlpipelines.emulator.errors import EmulatorError
    from airflow_provider_mlpipelines.emulator.faults import FaultInjector
    from airflow_provider_mlpipelines.emulator.server import EmulatorConfig, run_until_signalled
    from airflow_provider_mlpipelines.emulator.spec_model import WorkspaceSpecError

    faults = _fault_settings(args)
    try:
        FaultInjector(faults)
    except EmulatorError as exc:
        build_parser().error(f"invalid --fault-* flags: {exc.message}")
    try:
        arm_budget = arm_budget_from_args(args)
    except ValueError as exc:
        build_parser().error(f"invalid --arm-* flags: {exc}")
    config = EmulatorConfig(
        state_dir=args.state_dir,
        port=args.port,
        host=args.host,
        advertise_url=args.advertise_url,
        workspace=args.workspace,
        token_lifetime=args.token_lifetime,
        max_processes=args.max_processes,
        lro_seconds=args.lro_seconds,
        v2_behaviour=V2Behaviour(
            invoke_job_name=args.invoke_job_name,
            invoke_display_name=args.invoke_display_name,
            invoke_experiment=args.invoke_experiment,
            invoke_repeatability=args.invoke_repeatability,
            cancel_ended=args.cancel_ended,
            lro_retry_after=args.lro_retry_after,
            job_output_uri=args.job_output_uri,
        ),
        datastore_storage=args.datastore_storage,
        faults=faults,
        runs_query=run_query.from_args(args),
        arm_budget=arm_budget,
        **_identity_settings(args),  # type: ignore[arg-type]
    )
    try:
        asyncio.run(run_until_signalled(config))
    except WorkspaceSpecError as exc:
        logging.getLogger(__name__).error("Invalid workspace spec: %s", exc)
        return 2
    except OSError as exc:
        logging.getLogger(__name__).error("The emulator could not start: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
