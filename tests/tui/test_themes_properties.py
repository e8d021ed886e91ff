"""Any theme file — random bytes, TOML with any values — is a Theme the TUI can use or one
DjtuiError."""

from __future__ import annotations

import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from djtui.core.errors import DjtuiError
from djtui.themes import COLOUR_FIELDS, VARIABLE_DEFAULTS, load_theme
from tests.fixtures.properties import clear_error_or_result

COLOURS = st.one_of(st.sampled_from(["#ff00ff", "#fff", "red", "ansi_red", "ansi_default", "blurple", "", "#12345"]),
                    st.text(max_size=10), st.integers(), st.floats(allow_nan=False), st.booleans())
TOML_VALUES = st.recursive(st.one_of(st.text(max_size=10), st.integers(), st.booleans(), st.floats(allow_nan=False)),
                           lambda inner: st.lists(inner, max_size=3), max_leaves=6)
THEMES = st.fixed_dictionaries(
    {"primary": COLOURS},
    optional={**{key: COLOURS for key in COLOUR_FIELDS if key != "primary"},
              "name": st.one_of(st.text(max_size=8), st.integers()), "dark": st.one_of(st.booleans(), TOML_VALUES),
              "luminosity_spread": TOML_VALUES, "text_alpha": TOML_VALUES,
              "variables": st.one_of(st.dictionaries(st.sampled_from([*VARIABLE_DEFAULTS, "border-blurred"]), COLOURS,
                                                     max_size=4), TOML_VALUES),
              "shine": TOML_VALUES})


def _check(path) -> None:
    from textual.theme import Theme

    theme = clear_error_or_result(lambda: load_theme(path), megabytes=16)
    if isinstance(theme, Theme):  # usable: Textual can build its colour system from it
        theme.to_color_system().generate()
    else:
        assert isinstance(theme, DjtuiError) and str(path) in theme.message


@given(st.binary(max_size=3000))
def test_random_bytes_are_a_theme_or_one_clear_error(tmp_path_factory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("theme") / "random.toml"
    path.write_bytes(data)
    _check(path)


@given(THEMES)
def test_toml_with_any_values_is_a_theme_or_one_clear_error(tmp_path_factory, data: dict) -> None:
    path = tmp_path_factory.mktemp("theme") / "club.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    _check(path)
