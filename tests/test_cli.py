"""The two command lines: one grammar for global options, the README's commands as written,
and the mode: internal commands are refused in public mode.

Global options (--warehouse, --today, -v) are accepted before and after the command name in
``python -m pipelines`` and ``python -m oversight`` alike. Every ``python -m`` line of the
README's bash blocks is run as written in a temporary folder (file names in it made real);
``fetch`` without ``--dry-run`` needs the publishers' servers, so those lines are checked for
argument parsing only.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from oversight import __main__ as oversight_cli
from pipelines import __main__ as pipelines_cli
from tests.conftest import ROOT, TODAY

PARSERS = {"pipelines": pipelines_cli.build_parser, "oversight": oversight_cli.build_parser}
# Lines that reach the network: parsed only (see the module docstring).
PARSE_ONLY = (("pipelines", "fetch"),)
BOROUGH_CURRENT = "MPS Borough Level Crime (most recent 24 months).csv"


def readme_commands(readme: Path = ROOT / "README.md") -> list[str]:
    """Every ``python -m pipelines|oversight`` line of the README's bash code blocks."""
    blocks = re.findall(r"```bash\n(.*?)```", readme.read_text(encoding="utf-8"), re.S)
    lines = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith(("python -m pipelines", "python -m oversight")):
                lines.append(line)
    return lines


def expand_optional(line: str) -> str:
    """``[--format table|json|csv]`` -> ``--format table``: each optional part, first choice."""
    return re.sub(r"\[([^\]]+)\]", lambda m: re.sub(r"\|\S+", "", m.group(1)), line)


def argv_of(line: str, files: dict[str, str]) -> tuple[str, list[str]]:
    """The CLI name and its arguments, placeholders (FILE, DIR) replaced by real paths."""
    words = shlex.split(expand_optional(line), comments=True)
    assert words[:2] == ["python", "-m"], line
    return words[2], [files.get(w, w) for w in words[3:]]


def test_readme_lists_the_commands_it_documents() -> None:
    commands = readme_commands()
    assert any(" load " in c for c in commands)
    assert any("oversight scorecard" in c for c in commands)
    assert any("fetch --dry-run" in c for c in commands)


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.sample import write_sample

    out = tmp_path_factory.mktemp("cli_sample")
    write_sample(out, ROOT / "config" / "sample.yaml")
    return out


def test_every_readme_command_runs_as_written(sample_files: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    raw = work / "data" / "raw"
    raw.mkdir(parents=True)
    datastore = sample_files / "london_datastore"
    shutil.copy(datastore / "MPS Borough Level Crime (most recent 24 months) 2025-11.csv", raw)
    shutil.copy(
        datastore / "MPS Borough Level Crime (most recent 24 months) 2025-12.csv",
        work / BOROUGH_CURRENT,
    )
    warehouse = tmp_path / "wh" / "oversight.duckdb"
    files = {"FILE": str(warehouse), "DIR": str(raw)}
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OVERSIGHT_WAREHOUSE": str(warehouse),
        "OVERSIGHT_TODAY": TODAY.isoformat(),
        "OVERSIGHT_MODE": "public",
    }
    ran = []
    for line in readme_commands():
        cli, argv = argv_of(line, files)
        args = PARSERS[cli]().parse_args(argv)  # every line parses
        if (cli, args.command) in PARSE_ONLY and not getattr(args, "dry_run", False):
            continue
        if args.command == "rebuild" and (ROOT / "data" / "raw").exists():
            continue  # it would also load this checkout's own downloads
        run = subprocess.run(
            [sys.executable, "-m", cli, *argv],
            cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert run.returncode == 0, (line, run.stdout[-2000:], run.stderr[-2000:])
        ran.append((cli, args.command))
    assert ("pipelines", "load") in ran
    assert ("oversight", "scorecard") in ran
    assert warehouse.exists()
    assert ran.count(("pipelines", "load")) == 2


def both_ways(cli: str, command: list[str], options: list[str]) -> tuple:
    """The namespace with the options before the command and with them after it."""
    parser = PARSERS[cli]()
    return parser.parse_args([*options, *command]), parser.parse_args([*command, *options])


@pytest.mark.parametrize(
    ("cli", "command"),
    [
        ("pipelines", ["load", "DIR"]),
        ("pipelines", ["sample"]),
        ("pipelines", ["fetch", "--dry-run"]),
        ("pipelines", ["rebuild"]),
        ("pipelines", ["status"]),
        ("pipelines", ["dictionary"]),
        ("oversight", ["scorecard"]),
        ("oversight", ["sql", "from marts.loads"]),
        ("oversight", ["challenge", "--as-at", "2025-12"]),
        ("oversight", ["briefing", "--as-at", "2025-12", "--format", "pdf", "--out", "x.pdf"]),
        ("oversight", ["state", "backup", "--out", "x.sqlite"]),
    ],
)
def test_global_options_go_before_or_after_the_command(cli: str, command: list[str]) -> None:
    options = ["--warehouse", "w.duckdb", "--today", "2026-01-31", "-v"]
    before, after = both_ways(cli, command, options)
    for args in (before, after):
        assert args.warehouse == "w.duckdb"
        assert args.today == "2026-01-31"
        assert args.verbose is True
    plain = PARSERS[cli]().parse_args(command)
    assert plain.warehouse is None
    assert plain.today is None
    assert plain.verbose is False


def test_pipelines_load_takes_the_warehouse_after_the_folder(
    sample_files: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(sample_files / "mps" / "Homicides_sample.csv", folder)
    warehouse = tmp_path / "after" / "oversight.duckdb"
    code = pipelines_cli.main(
        ["load", str(folder), "--warehouse", str(warehouse), "--today", TODAY.isoformat()]
    )
    assert code == 0
    assert warehouse.exists()


# --- modes -------------------------------------------------------------------------------------

INTERNAL = {
    "challenge": ["challenge", "--as-at", "2025-12"],
    "briefing": ["briefing", "--as-at", "2025-12", "--format", "pdf", "--out", "{tmp}/p.pdf"],
    "sql": ["sql", "from marts.measure_extract"],
    "state seed": ["state", "seed", "--state", "{tmp}/s.sqlite"],
    "state backup": ["state", "backup", "--state", "{tmp}/s.sqlite", "--out", "{tmp}/b"],
    "state restore": ["state", "restore", "{tmp}/b", "--state", "{tmp}/s.sqlite"],
    "state export": ["state", "export", "--state", "{tmp}/s.sqlite", "--out", "{tmp}/e"],
    "state import": ["state", "import", "{tmp}/e", "--state", "{tmp}/s.sqlite"],
}


@pytest.mark.parametrize("name", sorted(INTERNAL))
def test_internal_commands_are_refused_in_public_mode(
    name: str,
    sample_warehouse: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OVERSIGHT_MODE", "public")
    monkeypatch.setenv("OVERSIGHT_STATE", str(tmp_path / "default.sqlite"))
    argv = [a.format(tmp=tmp_path) for a in INTERNAL[name]]
    code = oversight_cli.main(["--warehouse", str(sample_warehouse), *argv])
    out, err = capsys.readouterr()
    assert code == oversight_cli.EXIT_REFUSED
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert f"python -m oversight {argv[0]}" in err
    assert "OVERSIGHT_MODE=internal" in err
    assert list(tmp_path.iterdir()) == []  # nothing written: no store, no pack, no backup


def test_scorecard_works_in_public_mode(
    sample_warehouse: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OVERSIGHT_MODE", "public")
    code = oversight_cli.main(
        ["scorecard", "--format", "csv", "--warehouse", str(sample_warehouse)]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines()[0].startswith("measure_id,")
    assert len(out.splitlines()) > 10


def test_internal_mode_runs_the_internal_commands(
    sample_warehouse: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OVERSIGHT_MODE", "internal")
    monkeypatch.setenv("OVERSIGHT_TODAY", TODAY.isoformat())
    monkeypatch.setenv("OVERSIGHT_STATE", str(tmp_path / "none.sqlite"))
    code = oversight_cli.main(
        ["challenge", "--as-at", "2025-12", "--warehouse", str(sample_warehouse)]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Refused" not in err
    assert out.strip()
    code = oversight_cli.main(["state", "seed", "--state", str(tmp_path / "s.sqlite")])
    assert code == 0
    assert (tmp_path / "s.sqlite").exists()
