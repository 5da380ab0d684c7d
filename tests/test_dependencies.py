"""The transformers floor: pyproject.toml and the runtime check agree, and a transformers older
than the floor gets one line naming both versions and the pip command, before anything runs."""

import re
from pathlib import Path

import pytest
from packaging.version import Version

from alignaudit import dependencies
from alignaudit.dependencies import TRANSFORMERS_FLOOR, check_transformers
from alignaudit.errors import AlignAuditError
from tests.helpers import cli, one_line_error

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _installed(monkeypatch: pytest.MonkeyPatch, version: str | None) -> None:
    real = dependencies.installed_version
    monkeypatch.setattr(
        dependencies,
        "installed_version",
        lambda package: version if package == "transformers" else real(package),
    )


def test_pyproject_floor_is_the_checked_floor() -> None:
    floors = re.findall(r'^\s*"transformers>=([\w.]+)[,"]', PYPROJECT.read_text(), re.MULTILINE)
    assert floors == [TRANSFORMERS_FLOOR]


def test_the_installed_transformers_passes_its_own_check() -> None:
    assert Version(dependencies.installed_version("transformers")) >= Version(TRANSFORMERS_FLOOR)
    check_transformers()


@pytest.mark.parametrize("version", [TRANSFORMERS_FLOOR, "5.24.0", "6.0.0.dev0"])
def test_the_floor_and_newer_pass(monkeypatch: pytest.MonkeyPatch, version: str) -> None:
    _installed(monkeypatch, version)
    check_transformers()


@pytest.mark.parametrize("version", ["4.57.6", "5.3.0", f"{TRANSFORMERS_FLOOR}.dev0"])
def test_an_older_transformers_gets_one_line_naming_both_versions_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, version: str
) -> None:
    _installed(monkeypatch, version)
    with pytest.raises(AlignAuditError) as raised:
        check_transformers()
    message = str(raised.value)
    assert "\n" not in message
    assert f"transformers {version} is installed" in message
    assert f"pip install --upgrade 'transformers>={TRANSFORMERS_FLOOR}'" in message


def test_the_command_line_stops_with_exit_2_before_importing_a_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    _installed(monkeypatch, "5.3.0")
    bench = tmp_path / "bench.jsonl"
    bench.write_text('{"id": "r1", "prompt": "Say hello."}\n')
    out = tmp_path / "run"
    args = ["eval", "--model", "mockllm", "--benchmark", str(bench), "--out", str(out)]
    code, _, err = cli(capsys, *args)
    assert code == 2
    expected = f"needs transformers>={TRANSFORMERS_FLOOR}, but transformers 5.3.0 is installed"
    assert expected in one_line_error(err)
    assert not out.exists()


def test_loading_a_model_checks_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from alignaudit.models.hf import load_causal_lm

    _installed(monkeypatch, "5.3.0")
    with pytest.raises(AlignAuditError, match="transformers 5.3.0 is installed"):
        load_causal_lm(str(tmp_path / "no-model"))
