"""djtui's themes, kept as data: one TOML file per theme next to this module.

Each file holds the fields of :class:`textual.theme.Theme` (``name``, ``primary``,
``background``…) and a ``[variables]`` table for djtui's own colours (``armed-background``,
``meter-high``…) that the TUI's stylesheets use. :func:`load_theme` turns a file into a
``Theme``; a bad file (not text, not TOML, too big, an unknown key, a number or a word
where a colour belongs) is reported as one :class:`DjtuiError` naming the key, and the
TUI then falls back to the default theme.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from djtui.core.errors import DjtuiError

if TYPE_CHECKING:
    from textual.theme import Theme

THEMES_DIR = Path(__file__).resolve().parent
DEFAULT_THEME = "booth"
MAX_THEME_BYTES = 64 * 1024
"""A theme is a few dozen lines (the bundled ones are under 2 KB)."""
COLOUR_FIELDS = ("primary", "secondary", "warning", "error", "success", "accent", "foreground", "background",
                 "surface", "panel", "boost")
"""The :class:`textual.theme.Theme` fields that hold a colour."""

THEME_NOTES = {"booth": "dark, low glare for a dark booth (the default)", "stage": "high contrast for bright stages",
               "mono": "the terminal's own colours, state by reverse video"}
"""What each bundled theme is for, in the palette and the help."""

# djtui's own theme variables and their fallbacks; every theme file may override them.
VARIABLE_DEFAULTS: dict[str, str] = {
    "armed-background": "#c0261f",
    "armed-foreground": "#ffffff",
    "disarmed-background": "#2b2f38",
    "disarmed-foreground": "#9aa3b0",
    "meter-low": "#4cbf6f",
    "meter-mid": "#f0a030",
    "meter-high": "#e0403a",
}


def theme_names() -> list[str]:
    """The bundled themes, default first."""
    names = sorted(p.stem for p in THEMES_DIR.glob("*.toml"))
    return sorted(names, key=lambda n: n != DEFAULT_THEME)


def load_theme(name_or_path: str | Path) -> Theme:
    """A bundled theme by name (``booth``, ``stage``, ``mono``) or a TOML file by path."""
    from textual.theme import Theme

    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = THEMES_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise DjtuiError(
                f"unknown theme {str(name_or_path)!r}",
                f"choose one of: {', '.join(theme_names())} (or give a .toml file)",
            )
    try:
        size = path.stat().st_size
        if size > MAX_THEME_BYTES:
            raise DjtuiError(f"{path}: too big for a theme ({size:,} bytes; at most {MAX_THEME_BYTES:,})",
                             "a theme is a few colours: check you gave the right file")
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise DjtuiError(f"{path}: cannot read the theme ({exc.strerror or exc})", "check the path") from None
    except UnicodeDecodeError:
        raise DjtuiError(f"{path}: not a text file", "a theme is a TOML text file (see themes/booth.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise DjtuiError(f"{path}: not valid TOML ({exc})", "fix the theme file") from None
    except RecursionError:
        raise DjtuiError(f"{path}: not valid TOML (nested too deeply)", "fix the theme file") from None
    allowed = {f.name for f in fields(Theme)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise DjtuiError(f"{path}: unknown theme keys {', '.join(unknown)}", f"allowed: {', '.join(sorted(allowed))}")
    if "primary" not in data:
        raise DjtuiError(f"{path}: a theme needs at least 'primary'", "add primary = \"#rrggbb\"")
    data.setdefault("name", path.stem)
    _check(path, data)
    data["variables"] = {**VARIABLE_DEFAULTS, **data.get("variables", {})}
    return Theme(**data)


def _check(path: Path, data: dict[str, Any]) -> None:
    """:class:`DjtuiError` naming the first key whose value a theme cannot hold: Textual
    would otherwise fail later, while drawing."""
    from textual.color import Color, ColorParseError

    def colour(key: str, value: Any) -> None:
        if not isinstance(value, str):
            raise DjtuiError(f"{path}: {key} must be a colour in quotes, not {value!r}", f'like {key} = "#e0403a"')
        try:
            Color.parse(value)
        except ColorParseError:
            raise DjtuiError(f"{path}: {key} = {value!r} is not a colour", f'like {key} = "#e0403a" or "ansi_red"') from None

    if not isinstance(data["name"], str) or not data["name"].strip():
        raise DjtuiError(f"{path}: name must be text", 'like name = "club"')
    for key in ("dark", "ansi"):
        if key in data and not isinstance(data[key], bool):
            raise DjtuiError(f"{path}: {key} must be true or false, not {data[key]!r}", f"like {key} = true")
    for key in ("luminosity_spread", "text_alpha"):
        value = data.get(key, 0.5)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            raise DjtuiError(f"{path}: {key} must be a number from 0 to 1, not {value!r}", f"like {key} = 0.15")
    for key in COLOUR_FIELDS:
        if data.get(key) is not None:
            colour(key, data[key])
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise DjtuiError(f"{path}: [variables] must be a table of name = value", 'like armed-background = "#c0261f"')
    for key, value in variables.items():
        if key in VARIABLE_DEFAULTS:
            colour(f"variables.{key}", value)
        elif not isinstance(value, str):
            raise DjtuiError(f"{path}: variables.{key} must be text in quotes, not {value!r}", "see themes/mono.toml")
