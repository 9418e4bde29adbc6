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

DESCRIPTION = """\
Local emulator of the Azure ML SDK v1 pipelines service (published pipelines, pipeline
endpoints, runs, run history) with an Entra-compatible token endpoint, served over HTTPS.
Pipeline steps run for real as local subprocesses (or as timers, for simulated steps).

When it is ready it writes STATE_DIR/manifest.json (base URL, credentials, CA bundle, ids of
runs to publish from, and a ready-made Airflow connection) and serves it at
GET /_emulator/manifest. SIGTERM or SIGINT stops it gracefully: running steps are killed and
the state is saved; a later start on the same state dir keeps everything.
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
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="Logging level of the emulator's stderr log (default INFO; DEBUG adds an access "
        "log of every request).",
    )
    return parser


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
    from airflow_provider_mlpipelines.emulator.server import EmulatorConfig, run_until_signalled
    from airflow_provider_mlpipelines.emulator.workspace import WorkspaceSpecError

    config = EmulatorConfig(
        state_dir=args.state_dir,
        port=args.port,
        host=args.host,
        workspace=args.workspace,
        token_lifetime=args.token_lifetime,
        max_processes=args.max_processes,
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
