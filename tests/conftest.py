"""Shared test set-up. Fixtures live in ``tests/fixtures/<topic>.py``, one module per
topic, registered below, so each area's fixtures have one home."""

from __future__ import annotations

import os

import pytest

# Nothing in the tests may reach a model hub; models come from installed packages or
# are built by the fixtures.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

pytest_plugins = [
    "tests.fixtures.speech",
    "tests.fixtures.booth",
    "tests.fixtures.training",
    "tests.fixtures.jack",
    "tests.fixtures.midi",
    "tests.fixtures.models",
    "tests.fixtures.faults",
    "tests.fixtures.properties",
]


@pytest.fixture(scope="session")
def _shared_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(autouse=True)
def _djtui_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, _shared_cache: str) -> None:
    """Each test gets its own config/data dirs; the cache (the sentence-embedding index)
    is shared by the session so it is built once."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("DJTUI_HOME", str(home))
    monkeypatch.setenv("DJTUI_CACHE_DIR", _shared_cache)
