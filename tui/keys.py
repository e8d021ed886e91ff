"""The screens and their keys: one table the app's bindings, the command palette, the
help screen and the Home screen's shortcut list are all built from."""

from __future__ import annotations

SCREENS: dict[str, tuple[str, str]] = {
    # mode: (key, what it is for, in the words a DJ would search the palette with)
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
HELP_KEYS = ("question_mark", "f1")
"""Every key of every screen (the help screen)."""
PALETTE_KEY = "ctrl+p"
