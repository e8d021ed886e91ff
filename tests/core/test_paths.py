"""Where djtui keeps things: one home for config, data and cache, movable as a whole
(DJTUI_HOME) or the cache alone (DJTUI_CACHE_DIR), and paths from data files kept inside."""

from __future__ import annotations

from pathlib import Path

import pytest

from djtui.core import paths


def test_djtui_home_puts_everything_under_one_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DJTUI_HOME", str(tmp_path))
    monkeypatch.delenv("DJTUI_CACHE_DIR", raising=False)
    assert paths.config_file() == tmp_path / "config" / "config.toml"
    assert paths.sessions_dir() == tmp_path / "data" / "sessions"
    assert paths.models_dir() == tmp_path / "data" / "models"
    assert paths.embeddings_cache_dir() == tmp_path / "cache" / "embeddings"
    assert paths.assembled_models_dir() == tmp_path / "cache" / "models"


def test_the_cache_can_move_on_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("DJTUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DJTUI_CACHE_DIR", str(tmp_path / "shared-cache"))
    assert paths.cache_dir() == tmp_path / "shared-cache"
    assert paths.data_dir() == tmp_path / "home" / "data"


def test_without_djtui_home_the_platform_folders_are_used(monkeypatch):
    import platformdirs

    monkeypatch.delenv("DJTUI_HOME", raising=False)
    monkeypatch.delenv("DJTUI_CACHE_DIR", raising=False)
    assert paths.config_dir() == Path(platformdirs.user_config_dir("djtui"))
    assert paths.data_dir() == Path(platformdirs.user_data_dir("djtui"))
    assert paths.cache_dir() == Path(platformdirs.user_cache_dir("djtui"))


def test_the_bundled_dj_context_ships_with_the_package():
    assert paths.default_context().is_file() and paths.default_context().parent == paths.bundled_contexts_dir()


def test_data_file_paths_stay_inside_their_folder(tmp_path):
    (tmp_path / "takes").mkdir()
    assert paths.within(tmp_path, "takes/a.wav") == tmp_path / "takes" / "a.wav"
    (tmp_path / "out").symlink_to("/etc")
    for bad, words in [("/etc/passwd", "absolute path"), ("../x.wav", "climbs out"), ("out/passwd", "through a link"),
                       ("", "empty path"), ("a\0b", "NUL byte"), ("C:\\x.wav", "absolute path")]:
        with pytest.raises(ValueError, match=words):
            paths.within(tmp_path, bad)


@pytest.mark.parametrize("name", ["/tmp/x", "../../x", "..", "a/../../b", "C:\\\\x", "", "ß ✓", "x" * 300])
def test_a_context_model_folder_stays_in_the_models_folder_whatever_the_contexts_name(name, tmp_path, monkeypatch):
    """The reader refuses such names; the folder is safe even for one that got past it
    (a context built in code): plain letters only, never a separator or a climb."""
    monkeypatch.setenv("DJTUI_HOME", str(tmp_path))
    folder = paths.context_model_dir(name, "intents: {}")
    assert folder.parent == paths.models_dir() / "context"
    assert folder.resolve().parent == (paths.models_dir() / "context").resolve()
    assert len(folder.name) <= 53 and folder.name.replace("-", "").replace("_", "").isalnum()
    assert paths.context_model_dir(name, "intents: {a: 1}") != folder  # another text, another folder
