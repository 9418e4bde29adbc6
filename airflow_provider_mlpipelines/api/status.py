"""One status model for pipeline runs, steps and entities.

The service reports enum-like fields as names, as integers or as numeric strings, and run
history uses its own vocabulary (``Completed`` where the pipelines service says ``Finished``).
Everything is normalised here, so that the operator, sensor and trigger share one notion of
"terminal", "succeeded" and "failed".
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class _WireEnum(str, Enum):
    """A string enum parsed from a name, an integer code or a numeric string."""

    @classmethod
    def _codes(cls) -> dict[int, _WireEnum]:
        return {}

    @classmethod
    def _aliases(cls) -> dict[str, _WireEnum]:
        return {}

    @classmethod
    def _fallback(cls) -> _WireEnum | None:
        return None

    @classmethod
    def parse(cls, value: Any) -> Any:
        """Return the member for ``value``; raise ``ValueError`` when it cannot be understood."""
        if isinstance(value, cls):
            return value
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a valid {cls.__name__}")
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
            member = cls._codes().get(int(value))
            if member is not None:
                return member
        elif isinstance(value, str):
            lowered = value.strip().lower()
            for member in cls:
                if member.value.lower() == lowered:
                    return member
            alias = cls._aliases().get(lowered)
            if alias is not None:
                return alias
        fallback = cls._fallback()
        if fallback is not None:
            return fallback
        raise ValueError(
            f"{value!r} is not a valid {cls.__name__}; expected one of {[m.value for m in cls]}"
        )

    @property
    def code(self) -> int:
        """The numeric code the service uses for this member."""
        for code, member in self._codes().items():
            if member is self:
                return code
        raise ValueError(f"{self.value} has no numeric code")

    def __str__(self) -> str:
        return self.value


class EntityStatus(_WireEnum):
    """Status of a published pipeline or pipeline endpoint."""

    ACTIVE = "Active"
    DEPRECATED = "Deprecated"
    DISABLED = "Disabled"

    @classmethod
    def _codes(cls) -> dict[int, _WireEnum]:
        return {0: cls.ACTIVE, 1: cls.DEPRECATED, 2: cls.DISABLED}


class PipelineRunStatus(_WireEnum):
    """Status of a pipeline run, with the terminal, success and failure sets."""

    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    RUNNING = "Running"
    FAILED = "Failed"
    FINISHED = "Finished"
    CANCELED = "Canceled"
    UNKNOWN = "Unknown"

    @classmethod
    def _codes(cls) -> dict[int, _WireEnum]:
        return {
            0: cls.NOT_STARTED,
            1: cls.RUNNING,
            2: cls.FAILED,
            3: cls.FINISHED,
            4: cls.CANCELED,
        }

    @classmethod
    def _aliases(cls) -> dict[str, _WireEnum]:
        # Run history's vocabulary mapped onto the pipelines service's.
        return {
            "completed": cls.FINISHED,
            "cancelled": cls.CANCELED,
            "preparing": cls.RUNNING,
            "provisioning": cls.RUNNING,
            "starting": cls.RUNNING,
            "finalizing": cls.RUNNING,
            "cancelrequested": cls.RUNNING,
            "notresponding": cls.RUNNING,
            "pausing": cls.RUNNING,
            "paused": cls.RUNNING,
        }

    @classmethod
    def _fallback(cls) -> _WireEnum | None:
        # An unheard-of state must never end a wait early: treat it as still running.
        return cls.UNKNOWN

    @classmethod
    def from_status(cls, status: Any) -> PipelineRunStatus:
        """Parse a ``Status`` value where ``None`` (no status yet) means ``NotStarted``."""
        if status is None:
            return cls.NOT_STARTED
        return cls.parse(status)

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_success(self) -> bool:
        return self in SUCCESS_STATES

    @property
    def is_failure(self) -> bool:
        return self in FAILURE_STATES


SUCCESS_STATES: frozenset[PipelineRunStatus] = frozenset({PipelineRunStatus.FINISHED})
FAILURE_STATES: frozenset[PipelineRunStatus] = frozenset(
    {PipelineRunStatus.FAILED, PipelineRunStatus.CANCELED}
)
TERMINAL_STATES: frozenset[PipelineRunStatus] = SUCCESS_STATES | FAILURE_STATES


class StepRunStatus(_WireEnum):
    """Status of one step (graph node) of a pipeline run."""

    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    RUNNING = "Running"
    FAILED = "Failed"
    FINISHED = "Finished"
    CANCELED = "Canceled"
    PARTIALLY_EXECUTED = "PartiallyExecuted"
    BYPASSED = "Bypassed"

    @classmethod
    def _codes(cls) -> dict[int, _WireEnum]:
        return {
            0: cls.NOT_STARTED,
            1: cls.QUEUED,
            2: cls.RUNNING,
            3: cls.FAILED,
            4: cls.FINISHED,
            5: cls.CANCELED,
            6: cls.PARTIALLY_EXECUTED,
            7: cls.BYPASSED,
        }

    @classmethod
    def _aliases(cls) -> dict[str, _WireEnum]:
        return {"completed": cls.FINISHED, "cancelled": cls.CANCELED}

    @property
    def is_terminal(self) -> bool:
        return self in STEP_TERMINAL_STATES

    @property
    def is_failure(self) -> bool:
        return self in STEP_FAILURE_STATES


STEP_FAILURE_STATES: frozenset[StepRunStatus] = frozenset(
    {StepRunStatus.FAILED, StepRunStatus.CANCELED, StepRunStatus.PARTIALLY_EXECUTED}
)
STEP_TERMINAL_STATES: frozenset[StepRunStatus] = STEP_FAILURE_STATES | frozenset(
    {StepRunStatus.FINISHED, StepRunStatus.BYPASSED}
)


class ParameterType(_WireEnum):
    """Declared type of a pipeline parameter; the service sends it as a code string."""

    INT = "Int"
    DOUBLE = "Double"
    BOOL = "Bool"
    STRING = "String"
    UNDEFINED = "Undefined"

    @classmethod
    def _codes(cls) -> dict[int, _WireEnum]:
        return {0: cls.INT, 1: cls.DOUBLE, 2: cls.BOOL, 3: cls.STRING, 4: cls.UNDEFINED}

    @classmethod
    def _aliases(cls) -> dict[str, _WireEnum]:
        return {
            "float": cls.DOUBLE,
            "integer": cls.INT,
            "boolean": cls.BOOL,
            "str": cls.STRING,
        }

    @property
    def wire(self) -> str:
        """The code string the service sends for this type (``"0"`` for Int...)."""
        return str(self.code)
