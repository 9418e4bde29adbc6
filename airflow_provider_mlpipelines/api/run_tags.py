"""The tags the provider writes on the runs it submits, and how long a new run may take to be
listed under them.

A module of its own, free of imports, because the operators read these names at DAG-parse
time, where the request builders (and the entity models they import) would cost more than the
operators themselves.
"""

from __future__ import annotations

#: Tag that identifies one submission, so that an ambiguous failure can be resolved by lookup.
SUBMISSION_ID_TAG = "airflow.submission_id"
#: Tags naming the task instance that submitted a run; together they identify it.
IDENTITY_TAGS = ("airflow.dag_id", "airflow.task_id", "airflow.run_id", "airflow.map_index")
#: Tag of the try that submitted a run.
TRY_NUMBER_TAG = "airflow.try_number"
#: How long a new run may take to appear in its pipeline's runs list: the list is not
#: guaranteed to be consistent at once, so a run looked for and not found is looked for again
#: until this long after it would have been created.
RUNS_LIST_LAG_SECONDS = 10.0
#: Seconds between two looks at a runs list that may not show a new run yet.
RELIST_INTERVAL_SECONDS = 2.0
