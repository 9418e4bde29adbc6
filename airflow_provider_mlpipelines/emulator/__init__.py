"""A local emulator of the Azure ML SDK v1 pipelines service.

It serves the REST contract of ``api/`` over HTTPS, issues Entra-compatible tokens, runs
pipeline steps for real as local subprocesses (or simulates them with timers) and keeps its
state in a folder, so a restart loses nothing. Start it with
``python -m airflow_provider_mlpipelines.emulator --port 0 --state-dir DIR`` or, from tests,
with :class:`airflow_provider_mlpipelines.emulator.testing.EmulatorProcess`.

Importing this package is cheap: the server modules are imported only when used.
"""

from __future__ import annotations
