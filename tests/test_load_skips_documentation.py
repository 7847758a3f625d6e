"""A downloaded folder with documentation in it loads: README, SOURCES.md and the like are
listed as skipped (config/pipeline.yaml not_data.suffixes), not refused. An unknown data-like
file is still refused with the list of known sources.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from pipelines import __main__ as pipelines_cli
from pipelines.build import load_paths
from tests.conftest import ROOT, TODAY

EXAMPLE = ROOT / "docs" / "examples" / "mps_measure_extract_example.csv"
DOCS = {
    "README.md": "# Downloaded files\n\n= see the publisher's page\n",
    "SOURCES.md": "| file | url |\n| --- | --- |\n",
    "guidance.PDF": "%PDF-1.4 not really\n",
    "notes.txt": "-- notes --\n",
}


def folder_with_docs(tmp_path: Path, extra: dict[str, str] | None = None) -> Path:
    folder = tmp_path / "download"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder)
    for name, text in {**DOCS, **(extra or {})}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_documentation_is_skipped_and_the_data_loaded(settings, tmp_path: Path) -> None:
    result = load_paths([folder_with_docs(tmp_path)], settings)
    assert result.ok
    assert result.published
    assert sorted(Path(o.file).name for o in result.skipped) == sorted(DOCS)
    assert all(o.message == "documentation, not data" for o in result.skipped)
    loaded = [o for o in result.outcomes if o.status == "loaded"]
    assert [Path(o.file).name for o in loaded] == [EXAMPLE.name]
    assert settings.warehouse.exists()


def test_cli_names_the_skipped_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    warehouse = tmp_path / "wh" / "oversight.duckdb"
    folder = folder_with_docs(tmp_path)
    code = pipelines_cli.main(
        ["load", str(folder), "--warehouse", str(warehouse), "--today", TODAY.isoformat()]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert f"Skipped {len(DOCS)} documentation file(s), not data:" in out
    for name in DOCS:
        assert name in out
    assert "skipped" in out
    assert f"Published {warehouse}" in out


def test_documentation_inside_a_zip_is_skipped(settings, tmp_path: Path) -> None:
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(EXAMPLE, f"data/{EXAMPLE.name}")
        zf.writestr("data/README.md", "# about these files\n")
    result = load_paths([archive], settings)
    assert result.ok
    assert [o.file.split("!")[-1] for o in result.skipped] == ["data/README.md"]


def test_an_unknown_csv_beside_documentation_is_still_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse = tmp_path / "wh" / "oversight.duckdb"
    folder = folder_with_docs(tmp_path, {"mystery.csv": "alpha,beta\n1,2\n"})
    code = pipelines_cli.main(
        ["load", str(folder), "--warehouse", str(warehouse), "--today", TODAY.isoformat()]
    )
    captured = capsys.readouterr()
    assert code == pipelines_cli.EXIT_REFUSED
    assert "mystery.csv" in captured.err
    assert "Known sources:" in captured.err
    assert "Nothing was published" in captured.err
    assert not warehouse.exists()
    assert "README.md" in captured.out  # still listed, as skipped
