"""Home Office "Police use of force statistics, England and Wales" (annual, context data).

Three published forms of the same figures load into one raw table,
``raw.home_office_use_of_force``, one row per published table row, with ``publication_table``
saying which table it is:

- ``tactics_by_ethnicity``: the number of times each tactic was used, by officer-perceived
  ethnicity of the person, by police force. Counts are TACTICS, not people or incidents. The
  table mixes detail rows with subtotals: tactics marked with a leading "*" ("*Total Tactics",
  "*Total Restraint") and "..., of which" groups are sums of other rows. They are kept as
  published; the mart flags them so that they are never added to the detail rows.
- ``incidents``: the number of incidents in which force was used, by force and region, with
  "Total <region>" and "Total England and Wales" rows.

Sources:

- ``home_office_uof_tactics_csv`` and ``home_office_uof_incidents_csv``: CSV extracts of the
  two tables (as made by Resistance Lab from the ODS; floats written "123.0", "not available"
  written blank, some total names with trailing spaces). They do not say which year they are
  for: the financial year comes from the ``period`` option ("2019/20"), else from the
  published file name (``april2019-march2020``); otherwise the file is refused asking for it.
- ``home_office_uof_tables_ods``: the original ODS data tables. The two tables are found by
  their titles ("... by police force and officer perceived ethnicity ...", "Incidents by
  police force ..."), not by sheet name, and the year comes from those titles ("year ending
  March 2020" is 2019/20). The ODS writes "not available" as ":"; it becomes blank, as in the
  CSV, so both forms load the same rows. It is read with python-calamine (already a
  dependency), which reads ODS cell for cell as odfpy does, about 70 times faster.

Counts stay text here; the staged suite (``stg_home_office_use_of_force``) checks them and
staging casts them. Names are trimmed ("Total North East " is "Total North East").
"""

from __future__ import annotations

import io
import logging
import re

import pandas as pd

from pipelines.errors import RefusedFile
from pipelines.inputs import InputFile
from pipelines.sources.base import ParseContext, Parsed, Source
from pipelines.sources.records import pick_columns, split_table

logger = logging.getLogger(__name__)

PUBLISHER = "Home Office"
TABLE = "home_office_use_of_force"
SUITE = "stg_home_office_use_of_force"
TACTICS = "tactics_by_ethnicity"
INCIDENTS = "incidents"
NOT_AVAILABLE = ":"
ETHNIC_COLUMNS = {
    "white": "White",
    "black": "Black (or Black British)",
    "asian": "Asian (or Asian British)",
    "mixed": "Mixed",
    "other": "Other",
    "not_reported": "Not reported",
    "tactics_total": "Number of times tactic reported",
}
CSV_TACTICS_COLUMNS = {
    "force": "Police Force",
    "type_of_force": "Type of force",
    "tactic": "Tactic",
    **ETHNIC_COLUMNS,
}
CSV_INCIDENTS_COLUMNS = {"region": "Region", "force": "Police Force", "incidents": "Total"}
ODS_TACTICS_HEADER = ["Police force", "Type of force", "Tactic", *ETHNIC_COLUMNS.values()]
ODS_INCIDENTS_HEADER = ["Region", "Police force", "Total"]
ODS_TACTICS_KEYS = ["force", "type_of_force", "tactic", *ETHNIC_COLUMNS]
ODS_INCIDENTS_KEYS = ["region", "force", "incidents"]
TACTICS_TITLE = re.compile(
    r"^Table [0-9]+\. Number of times tactics were used, by police force and officer "
    r"perceived ethnicity of person involved, year ending March ([0-9]{4})",
    re.IGNORECASE,
)
INCIDENTS_TITLE = re.compile(
    r"^Table [0-9]+\. Incidents by police force, year ending March ([0-9]{4})", re.IGNORECASE
)
PERIOD_OPTION = re.compile(r"^([0-9]{4})\s*[/-]\s*([0-9]{2}|[0-9]{4})$")
PERIOD_IN_NAME = re.compile(r"april-?([0-9]{4})[-_ ]+march-?([0-9]{4})", re.IGNORECASE)
HEADER_SEARCH_ROWS = 12
FRAME_COLUMNS = [
    "financial_year",
    "publication_table",
    "region",
    "force",
    "type_of_force",
    "tactic",
    *ETHNIC_COLUMNS,
    "incidents",
    "source_sheet",
    "source_line",
]


def financial_year(start: int) -> str:
    """The financial year starting in April of ``start``, written "2019/20"."""
    return f"{start}/{(start + 1) % 100:02d}"


def period_option(file: InputFile, ctx: ParseContext) -> str | None:
    """The ``period`` option as a financial year, if given; refuse one that is not a year."""
    option = ctx.options.get("period")
    if option is None:
        return None
    match = PERIOD_OPTION.match(str(option).strip())
    if not match or int(match.group(2)[-2:]) != (int(match.group(1)) + 1) % 100:
        raise RefusedFile(
            file.name, f"the period must be a financial year such as 2019/20, got {option!r}"
        )
    return financial_year(int(match.group(1)))


def period_from_name(file: InputFile) -> str | None:
    """The financial year a published extract's name gives ("...april2019-march2020...")."""
    match = PERIOD_IN_NAME.search(file.basename)
    if not match or int(match.group(2)) != int(match.group(1)) + 1:
        return None
    return financial_year(int(match.group(1)))


def csv_period(file: InputFile, ctx: ParseContext) -> str:
    """The year of a CSV extract: the ``period`` option, else the file name; else refuse."""
    option = period_option(file, ctx)
    named = period_from_name(file)
    if option is not None:
        if named and named != option:
            logger.warning("%s: using period %s, not %s from the name", file.name, option, named)
        return option
    if named:
        logger.info("%s: financial year %s taken from the file name", file.name, named)
        return named
    raise RefusedFile(
        file.name,
        "use-of-force CSV extracts do not say which year they are for, and the file name has "
        "no 'aprilYYYY-marchYYYY'; load it again with the period option (e.g. 2019/20)",
    )


def not_available_as_blank(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The publisher's "not available" marker (":") becomes blank, as the CSV extracts write it."""
    for column in columns:
        frame[column] = frame[column].mask(frame[column] == NOT_AVAILABLE, "")
    return frame


def complete_frame(frame: pd.DataFrame, **constants: object) -> pd.DataFrame:
    """Add the constant columns and the columns this table does not have (as missing)."""
    for column, value in constants.items():
        frame[column] = value
    for column in FRAME_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    return frame[FRAME_COLUMNS]


def is_tactics_csv_header(cells: list[str]) -> bool:
    return cells[:3] == ["Police Force", "Type of force", "Tactic"] and (
        ETHNIC_COLUMNS["tactics_total"] in cells
    )


def is_incidents_csv_header(cells: list[str]) -> bool:
    return cells == list(CSV_INCIDENTS_COLUMNS.values())


def matches_tactics_csv(rows: list[list[str]]) -> bool:
    """The CSV extract of tactics by force and ethnicity."""
    return bool(rows) and is_tactics_csv_header(rows[0])


def matches_incidents_csv(rows: list[list[str]]) -> bool:
    """The CSV extract of incidents by force: exactly Region, Police Force, Total."""
    return bool(rows) and is_incidents_csv_header(rows[0])


def parse_tactics_csv(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse the CSV extract of tactics by force and officer-perceived ethnicity."""
    table = split_table(file, is_tactics_csv_header, "Police Force,Type of force,Tactic,...")
    year = csv_period(file, ctx)
    frame = pick_columns(file, table, CSV_TACTICS_COLUMNS)
    frame = not_available_as_blank(frame, list(ETHNIC_COLUMNS))
    frame = complete_frame(frame, financial_year=year, publication_table=TACTICS)
    return Parsed(frame, year, len(table.rows), dict(CSV_TACTICS_COLUMNS))


def parse_incidents_csv(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse the CSV extract of incidents by force and region."""
    table = split_table(file, is_incidents_csv_header, "Region,Police Force,Total")
    year = csv_period(file, ctx)
    frame = pick_columns(file, table, CSV_INCIDENTS_COLUMNS)
    frame = not_available_as_blank(frame, ["incidents"])
    frame = complete_frame(frame, financial_year=year, publication_table=INCIDENTS)
    return Parsed(frame, year, len(table.rows), dict(CSV_INCIDENTS_COLUMNS))


def sheet_title_matches(rows: list[list[str]], title: re.Pattern[str]) -> bool:
    return any(title.match(str(cell).strip()) for row in rows for cell in row)


def matches_tables_ods(rows: list[list[str]]) -> bool:
    """A workbook with both use-of-force tables: tactics by force and ethnicity, incidents."""
    sheets = getattr(rows, "sheets", {})
    return any(sheet_title_matches(h, TACTICS_TITLE) for h in sheets.values()) and any(
        sheet_title_matches(h, INCIDENTS_TITLE) for h in sheets.values()
    )


def read_workbook(file: InputFile) -> dict[str, pd.DataFrame]:
    """Every sheet of a workbook as text cells (blank for empty), row positions kept."""
    try:
        # calamine reads ODS as well as xlsx, and is far faster than odfpy on these tables
        sheets = pd.read_excel(
            io.BytesIO(file.data), sheet_name=None, header=None, dtype=object, engine="calamine"
        )
    except Exception as exc:  # calamine raises several types for a damaged workbook
        raise RefusedFile(file.name, f"is not a readable spreadsheet ({exc})") from exc
    return {name: sheet.map(cell_text) for name, sheet in sheets.items()}


def cell_text(value: object) -> str:
    """A cell as trimmed text; whole numbers stored as floats lose their ".0"."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def find_sheet(
    file: InputFile, sheets: dict[str, pd.DataFrame], title: re.Pattern[str], what: str
) -> tuple[str, int]:
    """The sheet whose title cell matches, and the year its title ends ("March 2020")."""
    for name, sheet in sheets.items():
        for cell in sheet.head(3).to_numpy().ravel():
            match = title.match(cell)
            if match:
                return name, int(match.group(1))
    raise RefusedFile(file.name, f"has no sheet titled like '{what}'")


def sheet_rows(
    file: InputFile, sheet: pd.DataFrame, name: str, header: list[str], keys: list[str]
) -> pd.DataFrame:
    """The data rows under a sheet's header, up to the first empty row (the notes follow)."""
    cells = sheet.to_numpy().tolist()
    width = len(header)
    start = next(
        (i for i, row in enumerate(cells[:HEADER_SEARCH_ROWS]) if row[:width] == header), None
    )
    if start is None:
        raise RefusedFile(
            file.name, f"sheet {name!r} has no header row {', '.join(header)}", column=name
        )
    rows, lines = [], []
    for index in range(start + 1, len(cells)):
        row = cells[index][:width]
        if all(cell == "" for cell in row):
            break
        rows.append(row)
        lines.append(index + 1)
    if not rows:
        raise RefusedFile(file.name, f"sheet {name!r} has a header but no rows", row=start + 2)
    frame = pd.DataFrame(rows, columns=keys, dtype=object)
    frame["source_sheet"] = name
    frame["source_line"] = lines
    return frame


def ods_period(file: InputFile, ctx: ParseContext, years: set[int]) -> str:
    """The year the table titles give; the file says it, so a ``period`` option is not used.

    The option is shared by every file of a load (PAS neighbourhood files take one too), so a
    different value is only noted, never applied and never a reason to refuse.
    """
    if len(years) != 1:
        raise RefusedFile(file.name, f"its tables are for different years: {sorted(years)}")
    year = financial_year(years.pop() - 1)
    option = ctx.options.get("period")
    if option is not None and str(option).strip() != year:
        logger.warning("%s: tables say %s; period option %r not used", file.name, year, option)
    return year


def parse_tables_ods(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse the ODS data tables: tactics by force and ethnicity, and incidents by force."""
    sheets = read_workbook(file)
    tactics_name, tactics_year = find_sheet(
        file,
        sheets,
        TACTICS_TITLE,
        "Number of times tactics were used, by police force and officer perceived ethnicity ...",
    )
    incidents_name, incidents_year = find_sheet(
        file, sheets, INCIDENTS_TITLE, "Incidents by police force ..."
    )
    year = ods_period(file, ctx, {tactics_year, incidents_year})
    tactics = sheet_rows(
        file, sheets[tactics_name], tactics_name, ODS_TACTICS_HEADER, ODS_TACTICS_KEYS
    )
    tactics = complete_frame(
        not_available_as_blank(tactics, list(ETHNIC_COLUMNS)),
        financial_year=year,
        publication_table=TACTICS,
    )
    incidents = sheet_rows(
        file, sheets[incidents_name], incidents_name, ODS_INCIDENTS_HEADER, ODS_INCIDENTS_KEYS
    )
    incidents = complete_frame(
        not_available_as_blank(incidents, ["incidents"]),
        financial_year=year,
        publication_table=INCIDENTS,
    )
    frame = pd.concat([tactics, incidents], ignore_index=True)
    columns = {
        k: f"{tactics_name}: {h}"
        for k, h in zip(ODS_TACTICS_KEYS, ODS_TACTICS_HEADER, strict=True)
    }
    columns["region"] = f"{incidents_name}: Region"
    columns["incidents"] = f"{incidents_name}: Total"
    columns["force"] = f"{tactics_name} or {incidents_name}: Police force"
    logger.info("%s: %s from sheets %s and %s", file.name, year, tactics_name, incidents_name)
    return Parsed(frame, year, len(frame), columns)


TACTICS_CSV = Source(
    id="home_office_uof_tactics_csv",
    label="Home Office police use of force: tactics by force and ethnicity (CSV extract)",
    table=TABLE,
    suite=SUITE,
    matches=matches_tactics_csv,
    parse=parse_tactics_csv,
    publisher=PUBLISHER,
)
INCIDENTS_CSV = Source(
    id="home_office_uof_incidents_csv",
    label="Home Office police use of force: incidents by force (CSV extract)",
    table=TABLE,
    suite=SUITE,
    matches=matches_incidents_csv,
    parse=parse_incidents_csv,
    publisher=PUBLISHER,
)
TABLES_ODS = Source(
    id="home_office_uof_tables_ods",
    label="Home Office police use of force statistics data tables (ODS)",
    table=TABLE,
    suite=SUITE,
    matches=matches_tables_ods,
    parse=parse_tables_ods,
    publisher=PUBLISHER,
)
USE_OF_FORCE_SOURCES = (TACTICS_CSV, INCIDENTS_CSV, TABLES_ODS)
