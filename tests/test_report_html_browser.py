"""The HTML reports in a real browser (headless Chromium from Debian; skipped when absent): the page
renders, the status marks are text badges after rendering (no emoji left), and Japanese characters
render as glyphs, not as boxes (needs a CJK font such as Debian's ``fonts-noto-cjk``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_report_compare import noise, twin, unrelated

from emoalign.report.comparative import write_comparative_report
from emoalign.report.marks import FORBIDDEN_MARKS

CHROMIUM = Path("/usr/bin/chromium")
# CI installs Chromium (.ci/run): there the browser tests must run, never skip
IN_CI = bool(os.environ.get("CI"))
pytestmark = pytest.mark.skipif(not CHROMIUM.exists() and not IN_CI,
                                reason="headless Chromium (/usr/bin/chromium) not installed")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium offline with a throw-away profile."""
    profile = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}"
    argv = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def png_pixels(path: Path) -> np.ndarray:
    """The RGB pixels of a PNG (matplotlib reads it without PIL)."""
    from matplotlib.image import imread

    return np.asarray(imread(path))[..., :3]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """An English and a Japanese HTML report (pass, warn and fail in them), without figures (fast)."""
    out = tmp_path_factory.mktemp("html")
    results = [twin(), unrelated(), noise()]
    pages = {}
    for lang in ("en", "ja"):
        _, files = write_comparative_report(results, out / f"r_{lang}.md", lang=lang, html=True, figures=False)
        pages[lang] = files.html
    return pages


@pytest.mark.parametrize("lang, passed, failed", [("en", "pass", "fail"), ("ja", "合格", "不合格")])
def test_badges_are_text_after_rendering(reports, tmp_path, lang, passed, failed):
    page = reports[lang]
    source = page.read_text()
    assert "Noto Sans CJK JP" in source and "Hiragino Sans" in source and "Meiryo" in source  # the CJK font stack
    done = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert f'<html lang="{lang}">' in dom and "</table>" in dom
    badges = re.findall(r'<span class="badge badge-(\w+)">([^<]+)</span>', dom)
    kinds = {kind: word for kind, word in badges}
    assert kinds.get("pass") == passed and kinds.get("fail") == failed, kinds
    assert "warn" in kinds  # the unrelated pair passes the original's check 2 but not the baseline
    assert not [m for m in FORBIDDEN_MARKS if m in dom]  # no emoji that renders as a box
    verdicts = re.findall(r'<span class="badge badge-(pass|fail)">[^<]+</span>\s*([^<]+)</td>', dom)
    assert len(verdicts) >= 3  # the verdict column: a badge, then the verdict in words


def test_japanese_text_renders_as_glyphs_not_boxes(reports, tmp_path):
    """One screenshot, two lines: Japanese text, and characters no font has (which Chromium draws as
    identical boxes). Glyphs must be drawn, and differ from the boxes."""
    if not shutil.which("fc-list") or not subprocess.run(["fc-list", ":lang=ja"], capture_output=True,
                                                          text=True).stdout.strip():
        assert not IN_CI, "CI installs fonts-noto-cjk (.ci/run): the Japanese rendering must be checked there"
        pytest.skip("no Japanese font installed (Debian: apt-get install fonts-noto-cjk)")
    css = ("body{margin:0;font-family:'Noto Sans CJK JP','Noto Sans JP',sans-serif}"
           "div{height:100px;font-size:64px;line-height:100px;overflow:hidden}")
    lines = "".join(f"<div>{text}</div>" for text in ("感情整合", "\U000f0001\U000f0002\U000f0003\U000f0004"))
    page = tmp_path / "glyphs.html"
    page.write_text(f'<!DOCTYPE html><html lang="ja"><head><meta charset="utf-8"><style>{css}</style></head>'
                    f"<body>{lines}</body></html>", encoding="utf-8")
    shot = tmp_path / "glyphs.png"
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=600,200", "--hide-scrollbars", page.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    ink = (png_pixels(shot) < 0.5).any(axis=2)
    japanese, missing = ink[:100], ink[100:200]
    assert japanese.sum() > 500  # glyphs were drawn
    assert not np.array_equal(japanese, missing)  # and they are not the boxes of missing glyphs
