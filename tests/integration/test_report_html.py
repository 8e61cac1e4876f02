"""The HTML report in a real browser: headless Chromium renders it to a PNG that is not blank, and the
DOM it builds holds the report's figures. No network: the page fetches nothing."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import zlib
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from probe.report import render
from probe.report.summary import build_report
from probe.store import aggregates as agg
from probe.store import review as review_store
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
                review = await review_store.review_rows(s, cid)
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


# ---------------------------------------------------------------- a report a journalist can publish

PARIS = "Europe/Paris"


@pytest.fixture
def report_pages(tmp_path: Path) -> dict[str, str]:
    """The same campaign's page in French and in English, times in Europe/Paris."""
    from zoneinfo import ZoneInfo

    url = f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}"
    upgrade(url)

    async def build() -> dict[str, str]:
        engine = make_engine(url)
        try:
            sessions = make_sessionmaker(engine)
            async with sessions.begin() as s:
                cid = await seed_known(s)
            async with sessions() as s:
                report = await build_report(s, "known", now=W2 + timedelta(days=30), by="sector")
                timeline = await agg.answer_timeline(s, cid)
                review = await review_store.review_rows(s, cid)
            return {lang: render.render_html(report, timeline, review, lang, ZoneInfo(PARIS)) for lang in ("fr", "en")}
        finally:
            await engine.dispose()

    return asyncio.run(build())


class _Visible(HTMLParser):
    """The text a reader sees: every text node outside <style> and <title> (SVG labels included)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.chunks: list[str] = []
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "title"):
            self.hidden += 1
        if tag == "a":
            self.links.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.chunks.append(data)


def visible(html: str) -> _Visible:
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return parser


def test_french_page_speaks_french_with_local_times(report_pages: dict[str, str]) -> None:
    from tests.integration.test_report_page import well_formed

    html = report_pages["fr"]
    assert '<html lang="fr">' in html
    assert well_formed(html) == []
    assert "&lt;script&gt;alert(" in html and "<script>" not in html, "still autoescaped"
    text = " ".join(visible(html).chunks)
    for words in ("Chiffres", "Taux de réponse (AAPOR)", "Délai de réponse", "E-mails et réponses par envoi",
                  "Par sector", "Réponses peu claires à vérifier", "Comment lire ce rapport", "relance 1",
                  "premier envoi", "taux de réponse", "Télécharger le graphique (SVG)", "cibles joignables",
                  "RR6 = (I + P) / (I + P + R + NC) : toute réponse"):
        assert words in text, words
    for english in ("How to read this", "Figures", "Time to answer", "reminder 1", "answered within",
                    "Download the chart", "reachable targets"):
        assert english not in text, english
    # Times in the campaign's zone, to the minute, with the offset: no UTC ISO, no microseconds.
    assert "rapport produit le 9 nov. 2015 08:00 +01:00" in text
    assert re.search(r"\d{1,2} sept\. 2015 \d{2}:\d{2} \+02:00", text), "a received time in Paris summer time"
    assert not re.search(r"\d{2}:\d{2}:\d{2}(\.\d+)?", text), "times carry no seconds nor microseconds"
    assert "45,8 %" in text


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_notes_use_words_not_code_names(report_pages: dict[str, str], lang: str) -> None:
    text = " ".join(visible(report_pages[lang]).chunks)
    for code in ("answer_rate", "answered_by_wave", "auto_replies", "time_to_answer", "rates_by_wave",
                 "answered_within", "vs_all", "coding_agreement", "ci95"):
        assert code not in text, code
    assert ("taux de réponse" if lang == "fr" else "answer rate") in text.lower()


def test_each_chart_downloads_as_a_standalone_svg(report_pages: dict[str, str], tmp_path: Path) -> None:
    import base64
    import xml.etree.ElementTree as ET

    links = [a for a in visible(report_pages["fr"]).links if a.get("download")]
    assert len(links) == 4, "answers, curve, waves and the sector chart each offer a download"
    for link in links:
        href = link["href"] or ""
        assert href.startswith("data:image/svg+xml;base64,") and (link["download"] or "").endswith(".svg")
        markup = base64.b64decode(href.split(",", 1)[1]).decode("utf-8")
        root = ET.fromstring(markup)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
        assert "known · 9 nov. 2015" in texts and "n = 25 cibles, 24 joignables" in texts and "Source" in texts
        assert markup in report_pages["fr"], "the download is the chart shown"
    # One of them, opened alone in the browser, draws (fonts and background are its own).
    curve = next(link for link in links if link["download"] == "answer-curve.svg")
    path = tmp_path / "answer-curve.svg"
    path.write_bytes(base64.b64decode((curve["href"] or "").split(",", 1)[1]))
    shot = tmp_path / "curve.png"
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=640,400", path.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert _ink(shot, 640, 400) > 0.03


def _ink(shot: Path, width: int, height: int) -> float:
    """The share of sampled pixels that are not white, after checking the PNG is the size asked and
    has many colours (text, lines, fills), not a blank or one-colour page."""
    w, h, rows = png_pixels(shot.read_bytes())
    assert (w, h) == (width, height)
    bpp = len(rows[0]) // w
    samples = [row[i:i + 3] for row in rows[::3] for i in range(0, len(row), bpp * 3)]
    assert len(set(samples)) > 20, f"only {len(set(samples))} colours: blank"
    return sum(1 for p in samples if p != b"\xff\xff\xff") / len(samples)


SCROLL_PROBE = ("<script>addEventListener('load', () => {document.body.setAttribute('data-scroll-width', "
                "document.documentElement.scrollWidth); document.body.setAttribute('data-client-width', "
                "document.documentElement.clientWidth);});</script>")


def page_width(tmp_path: Path, html: str, width: int) -> tuple[int, int]:
    """(scrollWidth, clientWidth) of the page laid out at `width` px, measured by Chromium itself in a
    copy of the page with a one-line probe (the published page has no script)."""
    probe_page = tmp_path / f"probe-{width}.html"
    probe_page.write_text(html.replace("</body>", SCROLL_PROBE + "</body>"), encoding="utf-8")
    done = chromium(tmp_path, "--dump-dom", f"--window-size={width},900", probe_page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'data-scroll-width="(\d+)" data-client-width="(\d+)"', done.stdout)
    assert found, done.stdout[:500]
    return int(found[1]), int(found[2])


@pytest.mark.parametrize("width", [390, 1280])
def test_french_page_in_chromium_at_phone_and_desktop_width(report_pages: dict[str, str], tmp_path: Path,
                                                            width: int) -> None:
    path = tmp_path / "rapport.html"
    path.write_text(report_pages["fr"], encoding="utf-8")
    shot = tmp_path / f"shot-{width}.png"
    done = chromium(tmp_path, f"--screenshot={shot}", f"--window-size={width},2400", path.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert _ink(shot, width, 2400) > 0.04, "mostly white: the page did not draw"
    scroll, client = page_width(tmp_path, report_pages["fr"], width)
    assert scroll <= client, f"the page is {scroll} px wide in a {client} px window: it scrolls sideways"


def test_overflow_check_sees_a_page_wider_than_the_phone(report_pages: dict[str, str], tmp_path: Path) -> None:
    # The check above is not vacuous: a 900 px wide block makes it fail at phone width.
    wide = report_pages["fr"].replace("<body>", '<body><div style="width:900px">wide</div>', 1)
    scroll, client = page_width(tmp_path, wide, 390)
    assert scroll > client
