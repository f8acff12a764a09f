"""The HTML pages render in headless Chromium (Debian's `chromium`, installed by .ci/run).

Screenshots are kept in test-artifacts/ (git-ignored) to look at after a run.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

ARTIFACTS = Path(__file__).parents[3] / "test-artifacts"
WIDTH, HEIGHT = 1280, 1600
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium_binary() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    message = (
        "Debian's chromium is not installed (bash .ci/run installs it: apt-get install chromium)"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def chromium(profile: Path, *args: str) -> str:
    """Run headless Chromium with a fresh profile; return what it printed on stdout."""
    proc = subprocess.Popen(
        [chromium_binary(), *FLAGS, f"--user-data-dir={profile}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    assert proc.returncode == 0, f"chromium exited with {proc.returncode}"
    return out.decode("utf-8", "replace")


@pytest.mark.parametrize("page", ["work_queue", "finance", "run_health"])
def test_page_renders_in_headless_chromium(sample_report, tmp_path, page):
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{page}.png"
    shot.unlink(missing_ok=True)
    url = (sample_report.folder / f"{page}.html").as_uri()
    chromium(tmp_path / "profile", f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={shot}", url)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    colors = image.getcolors(maxcolors=WIDTH * HEIGHT)
    white = dict((c, n) for n, c in colors).get((255, 255, 255), 0)
    assert len(colors) > 50, "the page rendered blank"
    assert white < 0.97 * WIDTH * HEIGHT, "the page rendered almost blank"
    if page == "finance":
        # The embedded chart images were decoded: their bars' green is on screen.
        green = dict((c, n) for n, c in colors).get((0x3F, 0x91, 0x42), 0)
        assert green > 5000


class _Rows(HTMLParser):
    """Cells (data-v, else text) of the rows of one table in a DOM dump."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside, self.rows, self.sort = table_id, False, [], {}
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.inside = a.get("id") == self.table_id
        elif self.inside and tag == "th" and "aria-sort" in a:
            self.sort = a
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag == "td":
            self.cell = [a.get("data-v")] if "data-v" in a else []

    def handle_data(self, data):
        if self.cell is not None and (not self.cell or self.cell[0] is None):
            self.cell.append(data)

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif tag == "td" and self.cell is not None:
            self.rows[-1].append(self.cell[0] if self.cell and self.cell[0] else "".join(self.cell))
            self.cell = None


def test_work_queue_sorts_in_the_browser(sample_report, tmp_path):
    url = (sample_report.folder / "work_queue.html").as_uri()
    before = _Rows("queue")
    before.feed(chromium(tmp_path / "p1", "--dump-dom", url))
    body = [r for r in before.rows if r]
    assert body[0][:3] == ["1", "533407", "1"] and not before.sort
    # Column 8 is "at risk": sorted ascending by the page's own script.
    after = _Rows("queue")
    after.feed(chromium(tmp_path / "p2", "--dump-dom", url + "#sort=queue:8:asc"))
    sorted_rows = [r for r in after.rows if r]
    values = [int(r[8]) for r in sorted_rows]
    assert values == sorted(values) and values[0] == 0
    assert len(sorted_rows) == len(body) == 2000  # html_max_rows of the 2,523 queued lines
    assert after.sort["aria-sort"] == "ascending"
