"""Run history's ``runs:query`` filter, as azureml-core 1.61 writes it: tokenizer and parser.

The grammar is what ``azureml/_restclient/_odata/constants.py`` and ``runs.py`` produce::

    filter     := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := primary ("and" primary)*          (so "and" binds tighter than "or")
    primary    := "(" or_expr ")" | comparison
    comparison := RunId eq|ne <value>          Status eq|ne <value>
                | Tags/<key> eq|ne <value>|null  Properties/<key> eq|ne <value>|null
                | CreatedUtc ge|gt <ISO time>  ParentRunId eq|ne <value>|null
                | RunType eq|ne <value>

Values are unquoted words, ``'single-quoted'`` (``''`` for a quote) or ``"double-quoted"``
(azureml-core quotes tag and property values that way). A time may be written with a space
between date and time, as ``str(datetime)`` gives it (``CREATED_AFTER_FORMAT_STR``); one
without an offset is UTC. Keywords, operators and field names are read in any case.

A comparison on a tag or property the run does not have is false whatever the operator:
that is what gives azureml-core's "has this tag" filter, ``(Tags/k ne null or Tags/k eq
null)``, its meaning (the emulator's tag values are never null).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_provider_mlpipelines.emulator.errors import EmulatorError, bad_request

#: What the parser accepts, for the messages of a filter it cannot read.
ACCEPTED = (
    "comparisons RunId eq|ne <id>, Status eq|ne <status>, Tags/<key> eq|ne <value>|null, "
    "Properties/<key> eq|ne <value>|null, CreatedUtc ge|gt <ISO time>, "
    "ParentRunId eq|ne <id>|null, RunType eq|ne <type>, joined with 'and' / 'or' and grouped "
    "in parentheses; values unquoted, 'single-' or \"double-quoted\""
)
FILTER_FIELD = "filter"

_WORD = re.compile(r"[^\s()'\"]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}")
_END = "end of filter"

#: Field name (lower case) -> (its spelling, the operators it takes, whether null is a value).
_FIELDS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "runid": ("RunId", ("eq", "ne"), False),
    "status": ("Status", ("eq", "ne"), False),
    "runtype": ("RunType", ("eq", "ne"), False),
    "parentrunid": ("ParentRunId", ("eq", "ne"), True),
    "createdutc": ("CreatedUtc", ("ge", "gt"), False),
}
#: Map fields: ``Tags/<key>`` and ``Properties/<key>`` -> the RunDto key holding the map.
_MAPS = {"tags": ("Tags", "tags"), "properties": ("Properties", "properties")}
#: Scalar fields -> the RunDto key holding the value.
_DTO_KEYS = {
    "RunId": "runId",
    "Status": "status",
    "RunType": "runType",
    "ParentRunId": "parentRunId",
    "CreatedUtc": "createdUtc",
}


@dataclass(frozen=True)
class Token:
    """One token of the filter.

    :param kind: ``(``, ``)``, ``word`` or ``string`` (a quoted value, unquoted).
    :param text: the word or the string's value.
    :param offset: the character offset where it starts in the filter.
    :param end: the offset just past it.
    """

    kind: str
    text: str
    offset: int
    end: int


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``.

    :param text: the filter.
    :raises EmulatorError: 400 for an unterminated quoted value.
    """
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char.isspace():
            at += 1
        elif char in "()":
            tokens.append(Token(char, char, at, at + 1))
            at += 1
        elif char in "'\"":
            value, end = _quoted(text, at)
            tokens.append(Token("string", value, at, end))
            at = end
        else:
            match = _WORD.match(text, at)
            assert match is not None  # every other character starts a word
            tokens.append(Token("word", match.group(), at, match.end()))
            at = match.end()
    return tokens


def _quoted(text: str, start: int) -> tuple[str, int]:
    quote, at, value = text[start], start + 1, []
    while at < len(text):
        if text[at] != quote:
            value.append(text[at])
        elif quote == "'" and text[at + 1 : at + 2] == "'":
            # OData doubles a single quote inside a single-quoted value.
            value.append("'")
            at += 1
        else:
            return "".join(value), at + 1
        at += 1
    raise filter_error(
        f"the value starting with {quote} is not closed", text[start : start + 40], start, ""
    )


def filter_error(problem: str, token: str, offset: int, expected: str) -> EmulatorError:
    """The 400 of a filter that cannot be read, naming the token, its offset and the grammar.

    :param problem: what is wrong.
    :param token: the offending text.
    :param offset: its character offset in the filter.
    :param expected: what would have been accepted there (empty when nothing helps).
    """
    where = f"'{token}' at offset {offset}" if token != _END else f"the end (offset {offset})"
    wanted = f"; expected {expected}" if expected else ""
    return bad_request(
        f"Cannot parse the filter at {where}: {problem}{wanted}. Accepted: {ACCEPTED}",
        "InvalidFilter",
        FILTER_FIELD,
    )


# ---------------------------------------------------------------------------- expressions
@dataclass(frozen=True)
class Comparison:
    """``field op value``; ``key`` is the tag or property name of a map field.

    :param field: ``RunId``, ``Status``, ``Tags``, ``Properties``, ``CreatedUtc``...
    :param key: the map key, for ``Tags`` and ``Properties``.
    :param op: ``eq``, ``ne``, ``ge`` or ``gt``.
    :param value: the value: a string, a time (``CreatedUtc``) or ``None`` (``null``).
    """

    field: str
    key: str | None
    op: str
    value: str | datetime | None

    def matches(self, dto: dict[str, Any]) -> bool:
        """Whether the run's ``RunDto`` satisfies the comparison.

        :param dto: the run's ``RunDto``.
        """
        if self.key is not None:
            entries = dto.get(_MAPS[self.field.lower()][1]) or {}
            if self.key not in entries:
                return False
            actual: Any = entries[self.key]
        else:
            actual = dto.get(_DTO_KEYS[self.field])
        if isinstance(self.value, datetime):
            if not actual:
                return False
            created = as_utc(datetime.fromisoformat(actual))
            return created > self.value if self.op == "gt" else created >= self.value
        equal = _equal(self.field, actual, self.value)
        return equal if self.op == "eq" else not equal

    def count_run_ids(self) -> int:
        """1 for a ``RunId eq`` term, else 0."""
        return int(self.field == "RunId" and self.op == "eq")

    def run_id_candidates(self) -> tuple[frozenset[str] | None, bool]:
        """The run ids that can match (``None``: any) and whether exactly those match."""
        if self.field == "RunId" and self.op == "eq" and isinstance(self.value, str):
            return frozenset({self.value}), True
        return None, False


def _equal(field: str, actual: Any, value: str | None) -> bool:
    if field == "Status" and isinstance(actual, str) and isinstance(value, str):
        # Run history parses a status into its enum, whatever the case.
        return actual.lower() == value.lower()
    return bool(actual == value)


@dataclass(frozen=True)
class Junction:
    """``and`` or ``or`` of two or more expressions.

    :param op: ``and`` or ``or``.
    :param parts: the expressions joined.
    """

    op: str
    parts: tuple[Expression, ...]

    def matches(self, dto: dict[str, Any]) -> bool:
        """Whether the run's ``RunDto`` satisfies the expression.

        :param dto: the run's ``RunDto``.
        """
        combine: Callable[[Any], bool] = all if self.op == "and" else any
        return combine(part.matches(dto) for part in self.parts)

    def count_run_ids(self) -> int:
        """How many ``RunId eq`` terms the expression names."""
        return sum(part.count_run_ids() for part in self.parts)

    def run_id_candidates(self) -> tuple[frozenset[str] | None, bool]:
        """The run ids that can match (``None``: any) and whether exactly those match.

        A query of many ``RunId eq`` terms (the triggers' batched reads) then looks its runs
        up instead of testing every run of the experiment against every term.
        """
        found = [part.run_id_candidates() for part in self.parts]
        if self.op == "or":
            if any(ids is None for ids, _ in found):
                return None, False
            return frozenset().union(*(ids or () for ids, _ in found)), all(e for _, e in found)
        known = [ids for ids, _ in found if ids is not None]
        if not known:
            return None, False
        exact = len(found) == 1 and found[0][1]
        return frozenset.intersection(*known), exact


Expression = Comparison | Junction


def as_utc(moment: datetime) -> datetime:
    """``moment`` with a time zone: a naive time is taken as UTC.

    :param moment: the time.
    """
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


# ---------------------------------------------------------------------------- parser
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.at = 0

    def peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str) -> Token:
        token = self.peek()
        if token is None:
            raise filter_error("the filter ends too early", _END, len(self.text), expected)
        self.at += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.lower() == word:
            self.at += 1
            return True
        return False

    def parse(self) -> Expression:
        expression = self.junction("or")
        token = self.peek()
        if token is not None:
            raise filter_error(
                "unexpected text after a complete expression", token.text, token.offset, "and, or"
            )
        return expression

    def junction(self, op: str) -> Expression:
        parts = [self.junction("and") if op == "or" else self.primary()]
        while self.keyword(op):
            parts.append(self.junction("and") if op == "or" else self.primary())
        return parts[0] if len(parts) == 1 else Junction(op, tuple(parts))

    def primary(self) -> Expression:
        token = self.take("'(' or a comparison")
        if token.kind == "(":
            inner = self.junction("or")
            closing = self.take("')'")
            if closing.kind != ")":
                raise filter_error(
                    "a group is not closed", closing.text, closing.offset, "')', and, or"
                )
            return inner
        return self.comparison(token)

    def comparison(self, name: Token) -> Comparison:
        fields = "RunId, Status, Tags/<key>, Properties/<key>, CreatedUtc, ParentRunId, RunType"
        if name.kind != "word":
            raise filter_error("a field name is needed here", name.text, name.offset, fields)
        prefix, slash, key = name.text.partition("/")
        ops: tuple[str, ...]
        if slash and prefix.lower() in _MAPS and key:
            field, ops, nullable = _MAPS[prefix.lower()][0], ("eq", "ne"), True
        elif not slash and name.text.lower() in _FIELDS:
            field, ops, nullable = _FIELDS[name.text.lower()]
        else:
            raise filter_error("unknown field", name.text, name.offset, fields)
        op = self.take(f"an operator of {field}: {', '.join(ops)}")
        if op.kind != "word" or op.text.lower() not in ops:
            raise filter_error(
                f"{field} takes the operators {', '.join(ops)}", op.text, op.offset, ""
            )
        value = self.value(field, nullable)
        return Comparison(field, key or None, op.text.lower(), value)

    def value(self, field: str, nullable: bool) -> str | datetime | None:
        kind = "an ISO time" if field == "CreatedUtc" else "a value"
        token = self.take(f"{kind} for {field}")
        if token.kind in ("(", ")"):
            raise filter_error(f"{kind} is needed here", token.text, token.offset, "")
        if token.kind == "word" and token.text.lower() == "null" and nullable:
            return None
        if field != "CreatedUtc":
            return token.text
        text, end = token.text, token.end
        following = self.peek()
        if (
            _DATE.fullmatch(text)
            and following is not None
            and following.kind == "word"
            and following.offset == end + 1
            and _TIME.match(following.text)
        ):
            # str(datetime) puts a space between date and time (azureml-core's created_after).
            self.at += 1
            text = f"{text} {following.text}"
        try:
            return as_utc(datetime.fromisoformat(text))
        except ValueError:
            raise filter_error(
                "not an ISO 8601 time", text, token.offset, "e.g. 2026-01-02T03:04:05Z"
            ) from None


def parse_filter(text: str) -> Expression:
    """The expression of a ``runs:query`` filter.

    :param text: the filter as sent.
    :raises EmulatorError: 400 ``InvalidFilter`` naming the part it cannot read, its offset
        and what it accepts.
    """
    return _Parser(text).parse()
