"""Switches for what the real service does that no evidence settles (docs/emulator.md,
"Unknowns"): the emulator behaves one way per switch, and the provider's tests run under each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: An invoke's requested job name (``properties.name``): the recorded answers show a job name
#: the service made up, and users report that a requested one is ignored for pipeline component
#: deployments (Azure/azure-sdk-for-python#32763): ``ignore`` (the default) or ``honour``.
InvokeJobName = Literal["ignore", "honour"]
#: What becomes of the requested ``properties.name`` when the job is named by the service: the
#: recorded answers show it as the job's display name when the service generated it; whether a
#: requested one is kept is not recorded: ``requested`` (the default) or ``generated``.
InvokeDisplayName = Literal["requested", "generated"]
#: The job's experiment: the recorded invokes sent none and got the endpoint's name; whether a
#: requested ``properties.properties.experimentName`` is kept is not recorded.
InvokeExperiment = Literal["requested", "endpoint"]

#: A resent invoke's ``repeatability_request-id``: no recorded request carries one and no
#: document says the scoring API deduplicates on it: ``ignore`` (the default) or ``honour``.
InvokeRepeatability = Literal["ignore", "honour"]

#: A cancel of a job that has ended: the service refuses it, 400 ``UserError`` "... terminal
#: status, it can't be canceled" (Azure/azureml-assets#2496; no recording holds one), or
#: answers it as done.
CancelEnded = Literal["refuse", "accept"]

#: A pipeline job output's ``uri`` once a step wrote it: the recorded GETs (of jobs not yet
#: ended) answer ``null`` for an output left at its default path; what an ended job answers
#: is not recorded: ``datastore`` (the default, ``azureml://datastores/{ds}/paths/{path}``)
#: or ``null``.
JobOutputUri = Literal["datastore", "null"]

INVOKE_JOB_NAMES: tuple[InvokeJobName, ...] = ("ignore", "honour")
INVOKE_DISPLAY_NAMES: tuple[InvokeDisplayName, ...] = ("requested", "generated")
INVOKE_EXPERIMENTS: tuple[InvokeExperiment, ...] = ("requested", "endpoint")
INVOKE_REPEATABILITIES: tuple[InvokeRepeatability, ...] = ("ignore", "honour")
CANCELS_ENDED: tuple[CancelEnded, ...] = ("refuse", "accept")
JOB_OUTPUT_URIS: tuple[JobOutputUri, ...] = ("datastore", "null")


@dataclass(frozen=True)
class V2Behaviour:
    """One choice per unknown.

    :param invoke_job_name: whether an invoke's requested job name names the job.
    :param invoke_display_name: whether the requested name becomes the job's display name.
    :param invoke_experiment: whether the requested experiment, or the endpoint's name, is the
        job's experiment.
    :param invoke_repeatability: whether a repeated ``repeatability_request-id`` answers the
        first job instead of creating another.
    :param cancel_ended: how a cancel of a job that has ended is answered.
    :param lro_retry_after: the ``Retry-After`` of long-running operations' answers, in
        seconds; ``None`` sends none, as every recorded answer (clients then poll at their own
        pace).
    :param job_output_uri: what a job output's ``uri`` answers once a step wrote it.
    """

    invoke_job_name: InvokeJobName = "ignore"
    invoke_display_name: InvokeDisplayName = "requested"
    invoke_experiment: InvokeExperiment = "requested"
    invoke_repeatability: InvokeRepeatability = "ignore"
    cancel_ended: CancelEnded = "refuse"
    lro_retry_after: float | None = None
    job_output_uri: JobOutputUri = "datastore"
