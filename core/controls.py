"""Continuous controls: the knobs and faders a context moves, and the moves it asks for.

A :class:`Control` is one Rekordbox knob or fader as MIDI: its function (``EQLow``), the
control change that drives it (``cc``; 14-bit controls send the MSB there and the LSB on
``cc + 32``, as Pioneer's own controllers do), its channel (a deck's, or a fixed one), and
what the DJ's words mean on it: where its centre is, which per-beat limit it moves under
(:data:`LIMIT_KINDS`, set in ``[controls]``), and for the tempo slider the units its
travel spans (``span: 20`` for ±10 %).

Positions are fractions of the travel, 0 (all the way down or left) to 1. An intent's
``move:`` (:class:`MoveSpec`) turns a sentence's slots into a :class:`MoveRequest`:

- ``to``: an absolute target: a position (``"0.5"``, ``"1/4"``), ``centre``, or a number in
  the control's own units from its centre (``"+2%"``, ``"0%"``);
- ``by``: a relative move: a direction (``up``, ``down``, or ``more``/``less``, which on a
  control with ``more: away`` mean away from / toward its centre) and an amount
  (``"up 0.05"``, ``"down 2%"``);
- ``over``: how long (:class:`Duration`: ``"2 bars"``, ``"16 beats"``, ``"4 s"``);
  an expression that says none leaves it to the safety gate;
- ``cut``: the DJ asked for a jump ("kill", "cut"): no per-beat limit;
- ``from``: where a ramp starts when djtui does not know the control's position.

Templates fill in the slots (``control: "eq_{band}"``); ``defaults`` give values for slots
some expressions leave out ("more highs" moves "a bit"). Everything here is pure: what a
move does to a playing deck is the safety gate's business (:mod:`djtui.core.safety`).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from fractions import Fraction

LIMIT_KINDS = ("eq", "fader", "tempo", "effect")
"""The per-beat limits a control can move under: ``[controls] <kind>_per_beat``."""
DIRECTIONS = ("up", "down", "more", "less")
"""How a relative move's value starts: ``"up 0.05"``, ``"less 0.2"``."""
MORE_MEANS = ("up", "away")
"""What "more" means on a control: up its travel, or away from its centre (a filter
knob, whose two halves are a low-pass and a high-pass)."""
BEATS_PER_BAR = 4
"""Bars are four beats: the music DJs mix is in 4/4."""
HIRES_MAX_CC = 31
"""A 14-bit control's LSB goes on CC ``cc + 32``, so its MSB CC is 0-31 (as in every
``KnobSliderHiRes`` row Rekordbox ships)."""

_NUMBER = r"\d+(?:\.\d+)?(?:/\d+)?"
_ABSOLUTE = re.compile(rf"(?P<sign>[+-]?)(?P<number>{_NUMBER})(?P<unit>\S*)")
_RELATIVE = re.compile(rf"(?P<direction>{'|'.join(DIRECTIONS)})\s+(?P<number>{_NUMBER})(?P<unit>\S*)")
_DURATION = re.compile(rf"(?P<number>{_NUMBER})\s*(?P<unit>beats?|bars?|s)")


class MoveError(ValueError):
    """A move's value or duration that does not read: the message says what it should be."""


@dataclass(frozen=True)
class Control:
    """One knob or fader. ``function`` may hold ``{deck}`` (``CFXParameterCH{deck}``:
    one Rekordbox function per deck); ``channel`` is fixed (0-15) or ``None``, the deck's
    (deck n -> channel n-1). ``centre`` is the position of its rest (0.5 on an EQ, the
    filter, the tempo), ``None`` for faders. ``reverse`` sends ``1 - position``."""

    name: str
    function: str
    cc: int
    channel: int | None = None
    hires: bool = True
    centre: float | None = None
    limit: str = "fader"
    span: float | None = None
    """The control's own units over its whole travel (tempo: 20 for a ±10 % range)."""
    unit: str = ""
    """What those units are written as in a move's value (``"%"``)."""
    more: str = "up"
    reverse: bool = False
    line: int = 0

    @property
    def per_deck(self) -> bool:
        return self.channel is None

    def function_for(self, deck: int | None) -> str:
        return self.function.replace("{deck}", str(deck)) if deck is not None else self.function

    def channel_for(self, deck: int | None) -> int:
        if self.channel is not None:
            return self.channel
        assert deck is not None, f"{self.name} is a deck control"
        return deck - 1

    @property
    def steps(self) -> int:
        """Distinct values it takes: 16,384 (14-bit) or 128."""
        return 16384 if self.hires else 128


@dataclass(frozen=True)
class Duration:
    """How long a ramp should take: ``beats`` (bars are counted in beats) or ``seconds``."""

    amount: float
    unit: str  # "beats" or "s"

    def label(self) -> str:
        if self.unit == "s":
            return f"{self.amount:g} s"
        bars = self.amount / BEATS_PER_BAR
        return f"{bars:g} bar{'s' if bars != 1 else ''}" if bars == int(bars) else f"{self.amount:g} beats"


@dataclass(frozen=True)
class MoveRequest:
    """What a sentence asks of one control, before anything is known of where it is:
    an absolute ``target``, or a relative ``step`` (travel, > 0) in a ``direction``
    (``up``, ``down``, ``away`` from the centre, ``toward`` it); ``duration`` if one was
    said; ``start``: where to begin when the position is unknown; ``cut``: a jump asked for."""

    control: Control
    deck: int | None
    target: float | None = None
    step: float = 0.0
    direction: str = ""
    duration: Duration | None = None
    start: float | None = None
    cut: bool = False

    @property
    def relative(self) -> bool:
        return self.target is None

    @property
    def channel(self) -> int:
        return self.control.channel_for(self.deck)

    @property
    def function(self) -> str:
        return self.control.function_for(self.deck)

    def target_from(self, position: float | None) -> float | None:
        """Where this move ends when the control is at ``position``: the absolute target,
        or the relative one from there (clamped to the travel). ``None`` when it cannot be
        known: a relative move from an unknown position, or "more" on a control resting
        exactly at its centre (either way is "more")."""
        if self.target is not None:
            return self.target
        if position is None:
            return None
        centre = self.control.centre if self.control.centre is not None else 0.5
        if self.direction == "up":
            moved = position + self.step
        elif self.direction == "down":
            moved = position - self.step
        elif self.direction == "away":
            if abs(position - centre) < 0.5 / self.control.steps:
                return None
            moved = position + self.step if position > centre else position - self.step
        else:  # toward the centre, never past it
            moved = max(centre, position - self.step) if position > centre else min(centre, position + self.step)
        return min(1.0, max(0.0, moved))

    def identity(self) -> tuple[object, ...]:
        """What this move does, whatever words asked for it (two readings that do the
        same are not ambiguous)."""
        return ("move", self.control.name, self.channel, self.target, self.step, self.direction, self.duration,
                self.cut)


@dataclass(frozen=True)
class MoveSpec:
    """An intent's ``move:``: templates over its slots (see the module)."""

    control: str
    to: str | None = None
    by: str | None = None
    over: str | None = None
    start: str | None = None
    cut: bool = False
    defaults: dict[str, str] = field(default_factory=dict)

    def fields(self) -> list[str]:
        """Slot names its templates use."""
        found = []
        for template in (self.control, self.to, self.by, self.over, self.start):
            if template:
                found += [name for _, name, _, _ in string.Formatter().parse(template) if name]
        return list(dict.fromkeys(found))

    def request(self, slots: dict[str, str], controls: dict[str, Control]) -> MoveRequest:
        """The move these slot values ask for. Raises :class:`MoveError` (or ``KeyError``
        for a slot no expression filled and no default gives)."""
        values = {**self.defaults, **slots}
        name = self.control.format(**values)
        control = controls.get(name)
        if control is None:
            raise MoveError(f"no control '{name}'")
        deck = int(values["deck"]) if "deck" in values and values["deck"].isdigit() else None
        if control.per_deck and deck is None:
            raise MoveError(f"'{name}' is a deck control: the sentence must name the deck")
        duration = None
        if self.over:
            try:
                duration = parse_duration(self.over.format(**values))
            except KeyError:  # this sentence named no duration: the gate decides
                duration = None
        start = absolute_position(control, self.start.format(**values)) if self.start else None
        if self.to is not None:
            return MoveRequest(control, deck, target=absolute_position(control, self.to.format(**values)),
                               duration=duration, start=start, cut=self.cut)
        assert self.by is not None
        direction, step = relative_step(control, self.by.format(**values))
        return MoveRequest(control, deck, step=step, direction=direction, duration=duration, start=start, cut=self.cut)


def _number(text: str) -> float:
    return float(Fraction(text))


def _in_units(control: Control, value: float, unit: str) -> float:
    """``value`` in the control's units (``unit``) as travel; an empty unit is travel."""
    if not unit:
        return value
    if unit != control.unit or not control.span:
        units = f"'{control.unit}' (its span: {control.span:g})" if control.span and control.unit else "none"
        raise MoveError(f"'{unit}' is not a unit of control '{control.name}' (units: {units})")
    return value / control.span


def absolute_position(control: Control, text: str) -> float:
    """A ``to`` value as a position 0-1: ``"centre"``, ``"0.5"``, ``"1/4"``, or
    ``"+2%"`` (units from the centre)."""
    text = text.strip()
    if text in ("centre", "center"):
        if control.centre is None:
            raise MoveError(f"control '{control.name}' has no centre")
        return control.centre
    match = _ABSOLUTE.fullmatch(text)
    if match is None:
        raise MoveError(f"{text!r} is not a position: write 0-1 ('0.5', '1/4'), 'centre', or units "
                        "from the centre ('+2%')")
    value = _number(match["number"]) * (-1 if match["sign"] == "-" else 1)
    if match["unit"] or match["sign"]:
        if control.centre is None:
            raise MoveError(f"{text!r} counts from the centre, and control '{control.name}' has none")
        position = control.centre + _in_units(control, value, match["unit"])
    else:
        position = value
    if not 0.0 <= position <= 1.0:
        raise MoveError(f"{text!r} is past the end of '{control.name}' (position {position:g}; 0-1)")
    return position


def relative_step(control: Control, text: str) -> tuple[str, float]:
    """A ``by`` value (``"up 0.05"``, ``"more 0.1"``, ``"down 2%"``) as ``(direction,
    travel)``; ``more``/``less`` become ``away``/``toward`` on a control whose "more"
    is away from its centre."""
    match = _RELATIVE.fullmatch(text.strip())
    if match is None:
        raise MoveError(f"{text!r} is not a relative move: write a direction ({', '.join(DIRECTIONS)}) "
                        "and an amount ('up 0.05', 'down 2%')")
    step = _in_units(control, _number(match["number"]), match["unit"])
    if not 0.0 < step <= 1.0:
        raise MoveError(f"{text!r} moves {step:g} of the travel (more than 0, at most 1)")
    direction = match["direction"]
    if direction in ("more", "less"):
        away = control.more == "away"
        direction = {"more": "away" if away else "up", "less": "toward" if away else "down"}[direction]
    return direction, step


def parse_duration(text: str) -> Duration:
    """``"2 bars"`` -> 8 beats; ``"16 beats"``; ``"4 s"`` (seconds)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise MoveError(f"{text!r} is not a duration: write '2 bars', '16 beats' or '4 s'")
    amount = _number(match["number"])
    if not 0 < amount <= 600:
        raise MoveError(f"{text!r}: a ramp lasts more than nothing and at most 600 (beats, bars or seconds)")
    unit = match["unit"]
    if unit.startswith("bar"):
        return Duration(amount * BEATS_PER_BAR, "beats")
    return Duration(amount, "beats" if unit.startswith("beat") else "s")
