"""The command palette (``ctrl+p``): every action of every screen, found by the words a
DJ would type ("listen", "start", "save", "theme"), each shown with its key.

Textual's own provider matches titles alone, fuzzily; this one also takes a command
whose title or help has a word starting with each typed word, so "listen" finds the Live
screen ("the live HUD: listen, …") and "start" finds listening and training.
"""

from __future__ import annotations

import re

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

WORD = re.compile(r"[\w/+-]+")


def word_match(query: str, text: str) -> bool:
    """Every word of ``query`` begins a word of ``text`` (case-insensitive)."""
    words = [w.lower() for w in WORD.findall(text)]
    wanted = [w.lower() for w in WORD.findall(query)]
    return bool(wanted) and all(any(word.startswith(w) for word in words) for w in wanted)


WORD_SCORE = 0.5
"""What a match on words alone scores: below a good fuzzy match of the title."""


def highlighted(matcher: Matcher, title: str) -> Content:
    """``title`` as plain text (its ``[key]`` is no markup) with the matched letters styled."""
    content = Content(title)
    score, offsets = matcher.fuzzy_search.match(matcher.query, title)
    for offset in offsets if score else ():
        if not title[offset].isspace():
            content = content.stylize(matcher.match_style, offset, offset + 1)
    return content


class DjtuiCommands(Provider):
    """The app's :meth:`~djtui.tui.app.DjtuiApp.get_system_commands`, searched by title
    (fuzzily) and by the words of the title and help."""

    async def discover(self) -> Hits:
        for title, help_text, callback, discover in self.app.get_system_commands(self.screen):
            if discover:
                yield DiscoveryHit(Content(title), callback, text=title, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback, _ in self.app.get_system_commands(self.screen):
            score = matcher.match(title)
            if word_match(query, f"{title} {help_text}"):
                score = max(score, WORD_SCORE)
            if score > 0:
                yield Hit(score, highlighted(matcher, title), callback, text=title, help=help_text)
