"""The screens and their keys: one table the app's bindings, the command palette and the
Home screen's shortcut list are all built from."""

from __future__ import annotations

SCREENS: dict[str, tuple[str, str]] = {
    # mode: (key, what it is for); the footer shows FOOTER_LABELS (80 columns are tight)
    "home": ("h", "status and shortcuts"),
    "live": ("l", "the live HUD: listen, see what was understood and sent"),
    "record": ("r", "record your voice for training"),
    "train": ("t", "fine-tune a model on your recordings"),
    "review": ("v", "label what the last set misheard, for training"),
    "commands": ("c", "browse the commands and try phrases"),
    "settings": ("s", "devices, ports, engine, thresholds, theme"),
}
ARM_KEY = "a"
PANIC_KEYS = ("x", "f12")
FOOTER_LABELS = {"commands": "Cmds"}
OFF_FOOTER = {"review"}
"""Screens for after the set: listed on Home and in the palette, not in the footer, where
80 columns must still show PANIC."""
