"""Transcripts as words: the one text normaliser (WER, training labels, grouping takes of
one sentence), and a sentence as Whisper writes it."""

from __future__ import annotations


def normalize_text(text: str) -> str:
    """Lower case; letters (of any script), digits and apostrophes kept, everything else a
    word break; single spaces. ``"Play deck 1, please!"`` -> ``"play deck 1 please"``:
    WER counts words, not Whisper's capitals and full stops."""
    kept = "".join(ch if ch.isalnum() or ch == "'" else " " for ch in text.lower())
    return " ".join(kept.split())


def whisper_text(text: str) -> str:
    """A sentence as Whisper writes it at the start of a segment: a leading space and a
    capital first letter (``"play deck one"`` -> ``" Play deck one"``; lower case costs
    the decoder ~1 nat on the first token). What fine-tuning teaches the decoder and what
    the decoder scores a grammar sentence as. Nothing said is nothing written: ``""``."""
    text = " ".join(text.split())
    return " " + text[:1].upper() + text[1:] if text else ""
