"""Command contexts: what a DJ can say and what it does.

A :class:`Context` holds slot types (values with their spoken synonyms), intents
(expressions in the grammar of :mod:`djtui.core.grammar`, a MIDI :class:`Action` or a
:class:`~djtui.core.controls.MoveSpec` of a continuous control, a safety class) and the
continuous controls those moves drive (:mod:`djtui.core.controls`).
:mod:`djtui.core.context_file` reads and checks the YAML files they come from; this
module is the model alone: expanding, sampling and rendering sentences, and the MIDI
command an intent sends (:func:`command_for`).
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from djtui.core import grammar
from djtui.core.controls import Control, MoveSpec
from djtui.core.errors import DjtuiError
from djtui.core.grammar import Seq, Slot, Word
from djtui.core.records import MidiCommand

SAFETY_CLASSES = ("safe", "guarded", "destructive")
CONTROLS = ("arm", "disarm", "confirm", "cancel", "hold")
MIDI_TYPES = ("note", "cc")


@dataclass(frozen=True)
class SlotType:
    """A slot type: each canonical ``value`` with the phrases that say it."""

    name: str
    values: dict[str, tuple[str, ...]]

    def phrases(self) -> Iterator[tuple[str, str]]:
        """``(phrase, value)`` for every way of saying every value."""
        for value, spoken in self.values.items():
            for phrase in spoken:
                yield phrase, value


@dataclass(frozen=True)
class Action:
    """The MIDI message an intent sends, and how it interacts with deck state.

    ``function`` (Rekordbox's name) and ``number`` (note or CC) are fixed, or looked up
    in ``function_map``/``number_map`` by ``key``, a template over the slots
    (``"{direction} {beats}"``). ``channel`` is fixed (0-15) or ``None``: the deck's
    (deck n -> channel n-1). ``toggle`` names deck state the function flips (PlayPause
    flips ``playing``) and ``sets`` the state this intent wants, so a toggle is only
    sent when the deck is not already there.
    """

    function: str = ""
    type: str = "note"
    number: int | None = None
    key: str | None = None
    function_map: dict[str, str] = field(default_factory=dict)
    number_map: dict[str, int] = field(default_factory=dict)
    channel: int | None = None
    value: int = 127
    toggle: str | None = None
    sets: bool | None = None

    def _key(self, slots: dict[str, str]) -> str:
        return (self.key or "").format(**slots)

    def function_for(self, slots: dict[str, str]) -> str:
        return self.function_map[self._key(slots)] if self.function_map else self.function

    def number_for(self, slots: dict[str, str]) -> int:
        if self.number_map:
            return self.number_map[self._key(slots)]
        assert self.number is not None
        return self.number

    def channel_for(self, slots: dict[str, str]) -> int:
        if self.channel is not None:
            return self.channel
        return int(slots["deck"]) - 1

    def keys(self, slot_values: dict[str, list[str]]) -> list[str]:
        """Every key the slots can produce (for validation and the Rekordbox CSV)."""
        if not self.key:
            return []
        names = re.findall(r"{(\w+)}", self.key)
        combos = itertools.product(*(slot_values.get(n, []) for n in names))
        return [self.key.format(**dict(zip(names, combo))) for combo in combos]


@dataclass(frozen=True)
class Intent:
    name: str
    expressions: tuple[Seq, ...]
    sources: tuple[str, ...]
    action: Action | None = None
    safety: str = "safe"
    control: str | None = None
    description: str = ""
    line: int = 0
    move: MoveSpec | None = None
    """A move of a continuous control (instead of an ``action``)."""

    def slot_names(self) -> set[str]:
        return {s.name for e in self.expressions for s in e.slots()}


@dataclass(frozen=True)
class Sentence:
    """One concrete thing to say: its words, and the intent and slots it means."""

    text: str
    intent: str
    slots: dict[str, str]


@dataclass(frozen=True)
class Binding:
    """One Rekordbox function an intent presses: for ``key`` (``None`` when its action
    has no key template), with its note or CC ``number``."""

    intent: Intent
    key: str | None
    function: str
    number: int | None

    @property
    def label(self) -> str:
        return f"{self.intent.name} {self.key}" if self.key is not None else self.intent.name


@dataclass
class Context:
    name: str
    intents: dict[str, Intent]
    slot_types: dict[str, SlotType]
    source: Path | None = None
    text: str = ""
    """The file's text; the resolver's caches are keyed by its hash."""
    controls: dict[str, Control] = field(default_factory=dict)
    """The continuous controls (knobs, faders) the intents' moves drive, by name."""

    def slot_type_of(self, intent: str, slot_name: str) -> SlotType:
        for expression in self.intents[intent].expressions:
            for slot in expression.slots():
                if slot.name == slot_name:
                    return self.slot_types[slot.type]
        raise KeyError(slot_name)

    def size(self) -> int:
        """Number of distinct sentences the context expands to."""
        sizes = {name: sum(len(v) for v in t.values.values()) for name, t in self.slot_types.items()}
        return sum(grammar.count(e, sizes) for i in self.intents.values() for e in i.expressions)

    def bindings(self) -> Iterator[Binding]:
        """Every Rekordbox function each intent's action can press, once per key its
        slots can make (``loop`` once per length): what the mapping export writes and
        what Rekordbox's reports are read against."""
        slot_values = {name: list(t.values) for name, t in self.slot_types.items()}
        for intent in self.intents.values():
            action = intent.action
            if action is None:
                continue
            slots = {s.name: s.type for e in intent.expressions for s in e.slots()}
            for key in action.keys({n: slot_values[t] for n, t in slots.items()}) or [None]:
                function = action.function_map[key] if key is not None and action.function_map else action.function
                number = action.number_map[key] if key is not None and action.number_map else action.number
                yield Binding(intent, key, function, number)

    def expand(self, intent: str | None = None) -> Iterator[Sentence]:
        """Every sentence, in order. Check :meth:`size` first: some contexts are huge."""
        for name, spec in self.intents.items():
            if intent is not None and name != intent:
                continue
            for expression in spec.expressions:
                for words, slots in _expand(expression, self.slot_types):
                    yield Sentence(" ".join(words), name, dict(slots))

    def sample(self, n: int, rng: random.Random | None = None, intent: str | None = None) -> list[Sentence]:
        """``n`` random sentences: each intent (or just ``intent``) equally likely, then a
        random expression and random choices. Works on contexts of any size."""
        rng = rng or random.Random(0)
        names = [intent] if intent else list(self.intents)
        out = []
        for _ in range(n):
            name = rng.choice(names)
            expression = rng.choice(self.intents[name].expressions)
            words: list[str] = []
            slots: dict[str, str] = {}
            _sample(expression, self.slot_types, rng, words, slots)
            out.append(Sentence(" ".join(words), name, slots))
        return out

    def shortest_phonemes(self) -> int:
        """The fewest phonemes any sentence of the context has ("arm": 3): no command
        can be complete before that much has been said."""
        from djtui.core.phonetic import phonemes

        def fewest(seq: Seq) -> int:
            total = 0
            for item in seq.items:
                if isinstance(item, Word):
                    total += len(phonemes(item.text))
                elif isinstance(item, Slot):
                    total += min(len(phonemes(phrase)) for phrase, _ in self.slot_types[item.type].phrases())
                else:
                    total += 0 if item.optional else min(fewest(option) for option in item.options)
            return total

        return min((fewest(e) for i in self.intents.values() for e in i.expressions), default=0)

    def render(self, intent: str, slots: dict[str, str]) -> str:
        """A natural sentence for ``intent`` with these slot values (the first expression
        that uses exactly these slots, else the first that can leave the others out; first
        phrasing of each choice)."""
        expressions = self.intents[intent].expressions
        for exact in (True, False):
            for expression in expressions:
                names = {s.name for s in expression.slots()}
                if names == set(slots) if exact else names > set(slots):
                    words: list[str] = []
                    if _render(expression, self.slot_types, slots, words):
                        return " ".join(words)
        return " ".join([intent.replace("_", " "), *slots.values()])


def _expand(seq: Seq, types: dict[str, SlotType]) -> Iterator[tuple[list[str], list[tuple[str, str]]]]:
    parts: list[list[tuple[list[str], list[tuple[str, str]]]]] = []
    for item in seq.items:
        if isinstance(item, Word):
            parts.append([([item.text], [])])
        elif isinstance(item, Slot):
            parts.append([(phrase.split(), [(item.name, value)]) for phrase, value in types[item.type].phrases()])
        else:
            options = [x for o in item.options for x in _expand(o, types)]
            if item.optional:
                options.append(([], []))
            parts.append(options)
    for combo in itertools.product(*parts):
        yield [w for ws, _ in combo for w in ws], [s for _, ss in combo for s in ss]


def _sample(seq: Seq, types: dict[str, SlotType], rng: random.Random, words: list[str], slots: dict[str, str]) -> None:
    for item in seq.items:
        if isinstance(item, Word):
            words.append(item.text)
        elif isinstance(item, Slot):
            value = rng.choice(list(types[item.type].values))
            words.extend(rng.choice(types[item.type].values[value]).split())
            slots[item.name] = value
        else:
            if item.optional and rng.random() < 0.5:
                continue
            _sample(rng.choice(item.options), types, rng, words, slots)


def _render(seq: Seq, types: dict[str, SlotType], slots: dict[str, str], words: list[str]) -> bool:
    for item in seq.items:
        if isinstance(item, Word):
            words.append(item.text)
        elif isinstance(item, Slot):
            # one slot name may take another type in another alternative ("over
            # $duration:duration" or "$slowly:duration"): only the type holding the value says it
            spoken = types[item.type].values.get(slots.get(item.name, ""))
            if spoken is None:
                return False
            words.extend(spoken[0].split())
        else:
            wanted = {s.name for s in Seq((item,)).slots()} & set(slots)
            for option in item.options:
                if {s.name for s in option.slots()} >= wanted:
                    attempt: list[str] = []
                    if _render(option, types, slots, attempt):
                        words.extend(attempt)
                        break
            else:
                if not item.optional:
                    return False
    return True


def command_for(intent: Intent, slots: dict[str, str]) -> MidiCommand:
    """The MIDI command ``intent`` sends with these slot values.

    Raises :class:`DjtuiError` when the intent has no action (a control word, a Rhino
    context) or a slot its action needs is missing.
    """
    action = intent.action
    if action is None:
        raise DjtuiError(f"'{intent.name}' sends no MIDI", "give the intent an 'action' in the context file")
    try:
        return MidiCommand(
            function=action.function_for(slots),
            type=action.type,
            channel=action.channel_for(slots),
            number=action.number_for(slots),
            value=action.value,
        )
    except (KeyError, ValueError) as exc:
        raise DjtuiError(
            f"'{intent.name}' cannot be sent with slots {slots}: no value for {exc}",
            "the resolver must fill every slot the action uses",
        ) from None

