"""The HTML report in a real browser: headless Chromium renders it to a PNG that is not blank, and the
DOM it builds holds the report's figures. No network: the page fetches nothing."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import struct
import subprocess
import zlib
from datetime import timedelta
from pathlib import Path

import pytest

from probe.report import render
from probe.report.summary import build_report
from probe.store import aggregates as agg
from probe.store.engine import make_engine, make_sessionmaker, upgrade
from tests.fixtures.seed import W2, seed_known
from tests.fixtures.services import require_service

pytestmark = pytest.mark.chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(tmp_path: Path, *args: str, timeout_s: float = 90) -> subprocess.CompletedProcess[str]:
    require_service(CHROMIUM is not None, "Chromium (/usr/bin/chromium)", "apt-get install chromium")
    assert CHROMIUM is not None
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    # Its own process group, so a hung browser and its helpers are stopped by our pid alone.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes) into rows of pixel bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and color in (2, 6) and interlace == 0, header
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = previous[i], previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


@pytest.fixture
def report_html(tmp_path: Path) -> tuple[Path, dict]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}"
    upgrade(url)

    async def build() -> tuple[str, dict]:
        engine = make_engine(url)
        try:
            sessions = make_sessionmaker(engine)
            async with sessions.begin() as s:
                cid = await seed_known(s)
            async with sessions() as s:
                report = await build_report(s, "known", now=W2 + timedelta(days=30), by="sector")
                timeline = await agg.answer_timeline(s, cid)
                review = await agg.review_rows(s, cid)
            return render.render_html(report, timeline, review), report
        finally:
            await engine.dispose()

    html, report = asyncio.run(build())
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    return path, report


def test_chromium_screenshot_is_not_blank(report_html: tuple[Path, dict], tmp_path: Path) -> None:
    path, _ = report_html
    shot = tmp_path / "shot.png"
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=900,1400", path.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (900, 1400)
    bpp = len(rows[0]) // width
    colours = {row[i:i + 3] for row in rows[::7] for i in range(0, len(row), bpp * 3)}
    assert len(colours) > 20, f"only {len(colours)} colours: the page looks blank"
    # Ink in the top part (the headline) and further down (tables and charts), not only a background.
    background = rows[0][:3]
    for band in (range(0, 300), range(300, 1400)):
        inked = sum(1 for y in band[::5] for i in range(0, len(rows[y]), bpp * 4) if rows[y][i:i + 3] != background)
        assert inked > 100, f"no ink in rows {band.start}-{band.stop}"


def test_chromium_dom_holds_the_report_figures(report_html: tuple[Path, dict], tmp_path: Path) -> None:
    path, report = report_html
    done = chromium(tmp_path, "--dump-dom", path.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert "<svg" in dom
    assert render.headline(report) in dom
    assert f"{report['answer_rate'] * 100:.1f} %" in dom
    for label, value in render._figure_rows(report):
        assert f"<td>{label.strip()}</td><td>{value}</td>" in dom, label
    for value, seg in report["by"]["sector"].items():
        assert f"<td>{value}</td><td>{seg['targets']}</td><td>{seg['reachable']}</td>" in dom
    # Hostile strings arrived as text: the browser built no script element from them.
    assert "<script" not in dom.lower()
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in dom
    json.dumps(report)
