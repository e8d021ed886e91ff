"""Transcripts compared as words: the one text normaliser (WER, training labels, grouping
takes of one sentence)."""

from __future__ import annotations


def normalize_text(text: str) -> str:
    """Lower case; letters (of any script), digits and apostrophes kept, everything else a
    word break; single spaces. ``"Play deck 1, please!"`` -> ``"play deck 1 please"``:
    WER counts words, not Whisper's capitals and full stops."""
    kept = "".join(ch if ch.isalnum() or ch == "'" else " " for ch in text.lower())
    return " ".join(kept.split())
