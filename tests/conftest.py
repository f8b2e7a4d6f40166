"""Shared fixtures: a fresh data directory with a real SQLite file per test."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from core.config import Settings
from core.db.engine import make_engine

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEGSTUDIO_SHARED_DATA", REPO.parent / "shared" / "data"))
# The models shipped with segstudio (core.starters) stay out of every test's catalog, wizard and pages (the
# pages, the CLI and the workers these tests start read it from the environment) unless a test turns them on:
# tests/test_starters.py does.
os.environ["SEGSTUDIO_SHIPPED_MODELS"] = "off"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", quick_seconds=20, extended_seconds=40, shipped_models=False)


@pytest.fixture
def engine(settings: Settings):
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def app_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point pages (which read the environment) at this test's data directory."""
    monkeypatch.setenv("SEGSTUDIO_DATA", str(settings.data_dir))
    monkeypatch.setenv("SEGSTUDIO_EMBEDDED_WORKER", "0")
    monkeypatch.delenv("SEGSTUDIO_DATABASE_URL", raising=False)
    monkeypatch.delenv("SEGSTUDIO_PASSWORD_HASH", raising=False)
    return settings


@pytest.fixture(scope="session")
def tiny_detector_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny detection model package (one grey channel, labels "square" and "bar"), trained once per test
    session on synthetic squares (tests/inference/box_model.py); copy it before changing it."""
    from tests.inference.box_model import tiny_detector

    return tiny_detector(tmp_path_factory.mktemp("tiny-detector"))
