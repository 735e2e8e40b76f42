"""Test-wide settings: a private cache folder so tests never touch ~/.cache, and small helpers."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB5_CACHE", str(tmp_path_factory.getbasetemp() / "lab5_cache"))
    monkeypatch.delenv("LAB5_DATA", raising=False)
    monkeypatch.delenv("LAB5_JUDGE", raising=False)
    monkeypatch.delenv("LAB5_JUDGE2", raising=False)
    monkeypatch.delenv("LAB5_WEIGHTS_KIND", raising=False)
    # hermetic: the shipped weights/ are used only where a test points LAB5_WEIGHTS at them (test_weights.py)
    monkeypatch.setenv("LAB5_WEIGHTS", str(tmp_path_factory.getbasetemp() / "no_weights"))
