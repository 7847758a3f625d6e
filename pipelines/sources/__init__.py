"""The registry of published sources, and detection of a file's source by its header."""

from __future__ import annotations

from pipelines.errors import UnknownSource
from pipelines.inputs import InputFile
from pipelines.sources.base import Source, decode, head_rows
from pipelines.sources.datastore_crime import BOROUGH_CRIME, WARD_CRIME
from pipelines.sources.measure_extract import MEASURE_EXTRACT
from pipelines.sources.mps_homicide import HOMICIDE
from pipelines.sources.pas import PAS_SOURCES
from pipelines.sources.police_uk import POLICE_UK_SOURCES
from pipelines.sources.reference_sources import REFERENCE_SOURCES
from pipelines.sources.use_of_force import USE_OF_FORCE_SOURCES

SOURCES: tuple[Source, ...] = (
    BOROUGH_CRIME,
    WARD_CRIME,
    *REFERENCE_SOURCES,
    *PAS_SOURCES,
    *POLICE_UK_SOURCES,
    HOMICIDE,
    *USE_OF_FORCE_SOURCES,
    MEASURE_EXTRACT,
)


def all_sources() -> tuple[Source, ...]:
    return SOURCES


def detect_source(file: InputFile) -> Source:
    """The source whose header signature the file matches; refuse unknown files."""
    rows = head_rows(file)
    if not rows:
        decode(file)  # raises the specific refusal: UTF-16, binary
    found = [s for s in SOURCES if s.matches(rows)]
    if len(found) == 1:
        return found[0]
    known = "; ".join(s.label for s in SOURCES)
    if not found:
        first = ",".join(rows[0])[:120] if rows else "(no readable header)"
        raise UnknownSource(
            file.name,
            f"its header ({first!r}) matches no known source. Known sources: {known}",
            row=1,
        )
    raise UnknownSource(file.name, f"its header matches several sources: {found}", row=1)
