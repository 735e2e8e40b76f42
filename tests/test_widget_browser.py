"""A real browser drives the preview: Voila serves a notebook on localhost, Debian's Chromium (never a
downloaded browser) picks two labels, clicks Generate and sees the images appear.

Skipped outside CI when chromium, voila or playwright is missing; in CI (``CI`` set) a missing piece fails.
``LAB5_UPDATE_FIGURES=1`` also copies the screenshot to ``image/widget_preview.png``; with
``LAB5_PREVIEW_CKPT=runs/<preset>/last.pt`` (and ``LAB5_PREVIEW_JUDGE=<judge .pth>``) the page shows that
trained generator and the judge's readings instead of the stand-in generator (how the committed screenshot
was made).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
APP = [
    "import torch\n",
    "from lab5_utils.report.widgets import Preview\n",
    "weights = torch.randn(24, 3, generator=torch.Generator().manual_seed(0))\n",
    "fake_generator = lambda z, y: torch.tanh((y @ weights)[:, :, None, None] + z[:, :3, None, None]).expand(-1, -1, "
    "64, 64)\n",
    "Preview(fake_generator, z_dim=8)\n",
]


def _app_source() -> list[str]:
    checkpoint = os.environ.get("LAB5_PREVIEW_CKPT")
    if not checkpoint:
        return APP
    return [
        "from lab5_utils.gan.checkpoint import load_generator\n",
        "from lab5_utils.judge.model import load_judge\n",
        "from lab5_utils.report.widgets import Preview\n",
        f"G = load_generator({str(Path(checkpoint).resolve())!r}, ema=False)\n",
        f"judge_path = {os.environ.get('LAB5_PREVIEW_JUDGE')!r}\n",
        "Preview(G, G.z_dim, judge=load_judge(judge_path) if judge_path else None)\n",
    ]


def _requirements() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not installed (apt-get install chromium)"
    if shutil.which("voila", path=str(Path(sys.executable).parent)) is None:
        return "voila not installed"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright not installed"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"voila exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds} s")


def test_preview_in_a_real_browser(tmp_path):
    missing = _requirements()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser test cannot run in CI: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    notebook = tmp_path / "preview.ipynb"
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": _app_source()}
    notebook.write_text(json.dumps({"cells": [cell], "metadata": {"kernelspec": {"name": "python3",
                        "display_name": "Python 3", "language": "python"}}, "nbformat": 4, "nbformat_minor": 5}))
    port = _free_port()
    voila = Path(sys.executable).parent / "voila"
    process = subprocess.Popen(
        [str(voila), str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
         "--ServerApp.token=''"], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for(url, process)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 700})
            page.goto(url, timeout=120_000)
            page.get_by_role("button", name="red cube").click(timeout=120_000)
            page.get_by_role("button", name="blue sphere").click()
            page.get_by_role("button", name="Generate").click()
            page.get_by_text("condition: ['red cube', 'blue sphere'], seed 0").wait_for(timeout=60_000)
            images = page.locator(".widget-image")
            images.nth(7).wait_for(timeout=60_000)
            assert images.count() == 8
            assert all(images.nth(i).get_attribute("src", timeout=5_000).startswith("blob:") for i in range(8))
            shot = tmp_path / "widget_preview.png"
            page.screenshot(path=str(shot), full_page=True)
            browser.close()
        assert shot.stat().st_size > 10_000
        if os.environ.get("LAB5_UPDATE_FIGURES"):
            shutil.copy(shot, Path(__file__).resolve().parents[1] / "image" / "widget_preview.png")
    finally:
        process.terminate()
        process.wait(timeout=30)
