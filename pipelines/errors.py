"""Exceptions that name the file, row and column a problem was found in."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class for problems the pipeline reports to its user as a sentence."""


class RefusedFile(PipelineError):
    """A file that cannot be loaded; nothing of it reaches the warehouse.

    Attributes name where the problem is so the message can point a person at it: ``file`` is
    the name as given (``archive.zip!inner.csv`` for an archive member), ``row`` the 1-based
    line number in the file (header lines included) and ``column`` the published header.
    """

    def __init__(
        self,
        file: str,
        reason: str,
        *,
        row: int | None = None,
        column: str | None = None,
        source: str | None = None,
        details: list[str] | None = None,
    ) -> None:
        self.file = file
        self.reason = reason
        self.row = row
        self.column = column
        self.source = source
        self.details = details or []
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = [f"file {self.file!r}"]
        if self.row is not None:
            where.append(f"line {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"Refused {', '.join(where)}: {self.reason}"


class UnknownSource(RefusedFile):
    """No known source matches the file's header."""


class ValidationFailed(RefusedFile):
    """The file parsed but its table failed one or more expectations."""


class WarehouseBusy(PipelineError):
    """Another load holds the warehouse lock."""
