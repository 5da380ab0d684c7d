"""The report as a person sees it: rendered by headless Chromium, with hostile model text inside."""

import shutil
import subprocess
from pathlib import Path

import pytest

from alignaudit.report.html import Condition, write_report
from tests.helpers import HOSTILE, make_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
# No background traffic: this machine's network is closed and the page must need none.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = Path(__file__).resolve().parents[1] / "runs" / "screenshots"


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report")
    conditions = [
        Condition.load("aligned", make_run(root / "aligned", [False] * 8, response=HOSTILE)),
        Condition.load("aoa", make_run(root / "aoa", [True] * 6 + [False] * 2)),
    ]
    return write_report(conditions, root / "report.html", title="browser test")


def test_report_renders_a_non_blank_page(report: Path, tmp_path: Path) -> None:
    from PIL import Image

    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOT_DIR / "report.png"
    result = chromium(
        tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,1600", report.as_uri()
    )
    assert shot.exists(), result.stderr[-2000:]
    image = Image.open(shot).convert("L")
    histogram = image.histogram()
    dark = sum(histogram[:128])
    assert dark > 0.005 * image.width * image.height, "the page rendered (almost) blank"
    assert len([count for count in histogram if count]) > 20  # text and charts, not a flat fill


def test_hostile_response_does_not_execute(report: Path, tmp_path: Path) -> None:
    result = chromium(tmp_path / "profile", "--dump-dom", report.as_uri())
    dom = result.stdout
    assert "<title>browser test</title>" in dom, result.stderr[-2000:]
    assert "pwned" not in dom.split("</title>")[0]
    assert '<img src="x"' not in dom  # the tag stayed text, not an element
