"""djtui's themes, kept as data: one TOML file per theme next to this module.

Each file holds the fields of :class:`textual.theme.Theme` (``name``, ``primary``,
``background``…) and a ``[variables]`` table for djtui's own colours (``armed-background``,
``meter-high``…) that the TUI's stylesheets use. :func:`load_theme` turns a file into a
``Theme``; bad files are reported as one :class:`DjtuiError`.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from djtui.core.errors import DjtuiError

if TYPE_CHECKING:
    from textual.theme import Theme

THEMES_DIR = Path(__file__).resolve().parent
DEFAULT_THEME = "booth"

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
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DjtuiError(f"{path}: cannot read the theme ({exc})", "check the path") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DjtuiError(f"{path}: not valid TOML ({exc})", "fix the theme file") from exc
    allowed = {f.name for f in fields(Theme)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise DjtuiError(f"{path}: unknown theme keys {', '.join(unknown)}", f"allowed: {', '.join(sorted(allowed))}")
    if "primary" not in data:
        raise DjtuiError(f"{path}: a theme needs at least 'primary'", "add primary = \"#rrggbb\"")
    data.setdefault("name", path.stem)
    data["variables"] = {**VARIABLE_DEFAULTS, **data.get("variables", {})}
    return Theme(**data)
