"""What a command prints when its output is not a terminal does not depend on the run's path."""

import pytest

from alignaudit.report.console import print_results
from alignaudit.terminal import PIPED_WIDTH, make_console

CATEGORY = {"n": 2, "errors": 2, "generation_errors": 2, "refusal_rate": 0.0}
RESULTS = {
    "judges": {
        "keyword": {
            **CATEGORY,
            "ci95": {"refusal_rate": [0.0, 0.0]},
            "per_category": {"illegal activity": CATEGORY},
        }
    }
}


def table_rows(capsys: pytest.CaptureFixture, title: str) -> list[str]:
    print_results(RESULTS, make_console(), title=title)
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("│")]


def test_a_piped_table_is_the_same_under_any_run_path(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    short = table_rows(capsys, "/tmp/r")
    deep = "/tmp/" + "/".join(f"popen-gw{i}/test_a_long_test_name_{i}" for i in range(6)) + "/run"
    assert len(deep) > 80  # longer than rich's default width for output that is no terminal
    assert table_rows(capsys, deep) == short
    assert len(short) == 2  # one line per row: the category and overall, nothing wrapped
    assert all("2 no answer" in line for line in short)


@pytest.mark.parametrize("columns", [None, "80"])  # pytest-xdist's workers set COLUMNS=80
def test_a_piped_console_has_the_fixed_width_whatever_columns_says(
    capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, columns: str | None
) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert make_console().width == PIPED_WIDTH and make_console(stderr=True).width == PIPED_WIDTH
    rows = table_rows(capsys, "/tmp/r")
    assert len(rows) == 2 and all("2 no answer" in line for line in rows)
