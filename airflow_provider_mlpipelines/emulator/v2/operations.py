"""Long-running operations of the v2 side (contract section 2).

A change that ARM answers asynchronously (endpoint and deployment PUT/DELETE, job cancel) is
applied in two halves: at once the resource shows ``Creating``/``Updating``/``Deleting``, and
when the operation is due its ``complete`` callback sets the final state. Operations are kept
in memory (their status URLs stay valid for the process's life, well over the contract's hour
for a test); every v2 request settles the ones that are due first, so a client that polls the
resource instead of the status URL sees the same outcome.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_mlpipelines.emulator.errors import EmulatorError
from airflow_provider_mlpipelines.emulator.records import utc_now

#: The in-progress word the recorded operations answer (never ``InProgress``).
IN_PROGRESS = "Updating"
SUCCEEDED = "Succeeded"
FAILED = "Failed"


@dataclass
class Operation:
    """One long-running operation.

    :param ready: returns whether the operation may complete now (e.g. a run has stopped).
    :param complete: applies the final state; raising :class:`EmulatorError` fails it.
    """

    id: str
    due: float
    ready: Callable[[], bool] | None = None
    complete: Callable[[], None] | None = None
    status: str = IN_PROGRESS
    error: dict[str, Any] | None = None
    start_time: str = field(default_factory=utc_now)
    end_time: str | None = None


class Operations:
    """The operations of one emulator process.

    :param delay: seconds an operation stays in progress (``Updating``) at least.
    """

    def __init__(self, delay: float = 1.0) -> None:
        self.delay = delay
        self._operations: dict[str, Operation] = {}

    def start(
        self,
        complete: Callable[[], None] | None = None,
        ready: Callable[[], bool] | None = None,
    ) -> Operation:
        """Register an operation that completes after :attr:`delay` (and once ``ready``)."""
        # Real operation ids look like "be:{guid}:{guid}"; a colon-free form keeps URLs simple.
        operation = Operation(
            id=f"op-{uuid.uuid4()}", due=time.monotonic() + self.delay, ready=ready
        )
        operation.complete = complete
        self._operations[operation.id] = operation
        return operation

    def settle(self) -> None:
        """Complete every operation that is due."""
        now = time.monotonic()
        for operation in self._operations.values():
            if operation.status != IN_PROGRESS or operation.due > now:
                continue
            if operation.ready is not None and not operation.ready():
                continue
            try:
                if operation.complete is not None:
                    operation.complete()
                operation.status = SUCCEEDED
            except EmulatorError as exc:
                operation.status = FAILED
                operation.error = {"code": exc.code, "message": exc.message}
            operation.end_time = utc_now()

    def get(self, operation_id: str) -> Operation:
        """An operation by id, settled first.

        :raises EmulatorError: 404 for an unknown id.
        """
        self.settle()
        operation = self._operations.get(operation_id)
        if operation is None:
            raise EmulatorError(
                404, "NotFound", f"Operation '{operation_id}' was not found", "operationId"
            )
        return operation

    def pending(self) -> int:
        """How many operations are still in progress."""
        return sum(1 for op in self._operations.values() if op.status == IN_PROGRESS)
