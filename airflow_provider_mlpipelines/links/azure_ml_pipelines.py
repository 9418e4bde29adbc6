"""Operator extra links to the Azure ML studio."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_mlpipelines._compat import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow_provider_mlpipelines._compat import Context

#: XCom key of the run's studio URL, pushed right after submission.
RUN_URL_XCOM_KEY = "run_url"


class AzureMLPipelineRunLink(BaseOperatorLink):
    """ "Azure ML run": the studio page of the pipeline run that the task submitted or watched.

    The URL is pushed to XCom as soon as the run exists (see :meth:`persist`), so the link works
    while the task is still waiting, deferred or not.
    """

    name: ClassVar[str] = "Azure ML run"  # type: ignore[misc]

    @property
    def xcom_key(self) -> str:
        return RUN_URL_XCOM_KEY

    @staticmethod
    def persist(context: Context, run_url: str) -> None:
        """Publish ``run_url`` for this task instance's link."""
        context["ti"].xcom_push(key=RUN_URL_XCOM_KEY, value=run_url)

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return XCom.get_value(key=RUN_URL_XCOM_KEY, ti_key=ti_key) or ""
