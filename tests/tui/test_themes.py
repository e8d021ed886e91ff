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


@pytest.mark.parametrize(
    ("content", "message"),
    [(bytes(range(256)) * 4, "not a text file"),
     (b'primary = 5\n', "primary must be a colour in quotes, not 5"),
     (b'primary = "#ff00ff"\nbackground = "blurple"\n', "background = 'blurple' is not a colour"),
     (b'primary = "#fff"\n[variables]\narmed-background = 12\n', "variables.armed-background must be a colour"),
     (b'primary = "#fff"\ndark = "yes"\n', "dark must be true or false"),
     (b'primary = "#fff"\ntext_alpha = 7\n', "text_alpha must be a number from 0 to 1"),
     (b'primary = "#fff"\nvariables = 3\n', r"\[variables\] must be a table"),
     (b"x = " + b"[" * 5000, "not valid TOML"),
     (b"# " + b"x" * 70_000, "too big for a theme")],
)
def test_a_broken_theme_file_is_one_clear_error_naming_what_is_wrong(tmp_path, content: bytes, message: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_bytes(content)
    with pytest.raises(DjtuiError, match=message) as caught:
        load_theme(path)
    assert str(path) in caught.value.message and caught.value.hint


async def test_the_tui_falls_back_to_the_default_theme_and_says_why(make_app, tmp_path) -> None:
    from djtui.core.config import Config

    path = tmp_path / "broken.toml"
    path.write_bytes(b'primary = 5\n')
    config = Config()
    config.ui.theme = str(path)
    app = make_app(config)
    async with app.run_test():
        assert app.theme == DEFAULT_THEME
        [note] = list(app._notifications)
        assert note.severity == "warning" and "primary must be a colour" in note.message
