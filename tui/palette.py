"""The command palette (``ctrl+p``): every action of every screen, found by the words a
DJ would type ("listen", "start", "save", "theme"), each shown with its key.

Textual's own provider matches titles alone, fuzzily; this one also takes a command
whose title or help has a word starting with each typed word, so "listen" finds the Live
screen ("the live HUD: listen, …") and "start" finds listening and training.
"""

from __future__ import annotations

import re

from textual.command import DiscoveryHit, Hit, Hits, Provider

WORD = re.compile(r"[\w/+-]+")


def word_match(query: str, text: str) -> bool:
    """Every word of ``query`` begins a word of ``text`` (case-insensitive)."""
    words = [w.lower() for w in WORD.findall(text)]
    wanted = [w.lower() for w in WORD.findall(query)]
    return bool(wanted) and all(any(word.startswith(w) for word in words) for w in wanted)


WORD_SCORE = 0.5
"""What a match on words alone scores: below a good fuzzy match of the title."""


class DjtuiCommands(Provider):
    """The app's :meth:`~djtui.tui.app.DjtuiApp.get_system_commands`, searched by title
    (fuzzily) and by the words of the title and help."""

    async def discover(self) -> Hits:
        for title, help_text, callback, discover in self.app.get_system_commands(self.screen):
            if discover:
                yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback, _ in self.app.get_system_commands(self.screen):
            score = matcher.match(title)
            if word_match(query, f"{title} {help_text}"):
                score = max(score, WORD_SCORE)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title, help=help_text)
