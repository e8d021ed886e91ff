"""Themes are data: each TOML file becomes a Textual theme with djtui's own variables."""

from __future__ import annotations

import pytest

from djtui.core.errors import DjtuiError
from djtui.themes import DEFAULT_THEME, VARIABLE_DEFAULTS, load_theme, theme_names


def test_three_bundled_themes_default_first() -> None:
    assert theme_names()[0] == DEFAULT_THEME == "booth"
    assert {"booth", "stage", "mono"} <= set(theme_names())


@pytest.mark.parametrize("name", ["booth", "stage", "mono"])
def test_each_theme_defines_armed_colours_unlike_disarmed(name: str) -> None:
    theme = load_theme(name)
    assert theme.name == name and theme.dark
    assert set(VARIABLE_DEFAULTS) <= set(theme.variables)
    assert theme.variables["armed-background"] != theme.variables["disarmed-background"]


def test_mono_uses_only_the_terminals_own_colours() -> None:
    theme = load_theme("mono")
    assert theme.ansi
    colours = [theme.primary, theme.background, theme.foreground, *theme.variables.values()]
    assert all(c.startswith("ansi_") or c == "none" for c in colours)


def test_a_theme_file_by_path(tmp_path) -> None:
    path = tmp_path / "club.toml"
    path.write_text('primary = "#ff00ff"\n[variables]\narmed-background = "#00ff00"\n', encoding="utf-8")
    theme = load_theme(path)
    assert theme.name == "club" and theme.primary == "#ff00ff"
    assert theme.variables["armed-background"] == "#00ff00"
    assert theme.variables["meter-high"] == VARIABLE_DEFAULTS["meter-high"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("primary = ", "not valid TOML"), ('primary = "#fff"\nshine = 1\n', "unknown theme keys shine"),
     ('dark = true\n', "needs at least 'primary'")],
)
def test_bad_theme_files_are_one_clear_error(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DjtuiError, match=message):
        load_theme(path)


def test_unknown_theme_names_the_choices() -> None:
    with pytest.raises(DjtuiError) as caught:
        load_theme("neon")
    assert "booth" in caught.value.hint and "stage" in caught.value.hint
