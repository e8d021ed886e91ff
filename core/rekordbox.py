"""Rekordbox MIDI Learn mapping files (CSV): every voice command mapped in one import.

Rekordbox's MIDI settings import a CSV per device. :func:`export_csv` writes one for the
context's actions as Rekordbox writes its own: ``@file,1,<device>``, the 15-column
header, ``# Deck`` and ``# Global`` sections, CRLF line ends. Column 0 is the Rekordbox
function, column 1 the control that sends it (djtui has no buttons: the function again).
Deck functions (``channel: deck``) get one row with the channel-0 code and deck offsets
``0,1,2,3``; functions on a fixed channel (FX unit, browser) are global: their code and
no offsets. Pad functions are typed ``Pad``. Every function whose state Rekordbox
reports (:data:`djtui.core.decks.REPORTED_STATES`) gets an output code
:data:`~djtui.core.decks.FEEDBACK_OFFSET` channels above its input, so deck state comes
from Rekordbox and a port that loops back never turns a report into a press.

Knobs and faders (the context's ``controls``) are written as Pioneer's shipped files
write them: ``KnobSliderHiRes`` (14-bit; ``KnobSlider`` for a 7-bit control) with the
MSB's CC as the input code and no output code (Rekordbox reports no positions),
``Fast`` where Pioneer's rows have it; a function per deck (``CFXParameterCH{deck}``)
is a global row per deck. A 14-bit control takes CC ``n`` and ``n + 32`` on each of its
channels, and the collision check reserves both.

Loop and jump lengths: ``4BeatLoop``, ``Jump4…`` and ``Jump16…`` are fixed by their
name. Any other length is a pad whose length is a Rekordbox pad setting: a context names
the family (``function: BeatLoop`` / ``BeatJump``, its key giving the length, e.g.
``"8"`` or ``"back 8"``) and :class:`PadLayout` (``[rekordbox]`` in the config, what
the DJ's pads hold) picks the pad. :attr:`Export.settings` says what Rekordbox must be
set to for the file to be true.

:func:`read_csv` parses any Rekordbox mapping file (with or without the header row, CRLF
or LF, offsets or full per-deck codes); :func:`check_csv` lists every problem in one as
``file:line: what``, a misspelt function or type name among them (:func:`misspelling_of`);
:func:`unverified` notes the names that are neither known nor a misspelling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from djtui.core.config import RekordboxConfig
from djtui.core.context import Context, Intent
from djtui.core.controls import MoveSpec
from djtui.core.decks import DECKS, FEEDBACK_OFFSET, reported_state
from djtui.core.errors import DjtuiError
from djtui.core.fileio import write_text_atomic
from djtui.core.records import MidiCommand

HEADER = ("#name", "function", "type", "input", "deck1", "deck2", "deck3", "deck4",
          "output", "deck1", "deck2", "deck3", "deck4", "option", "comment")
COLUMNS = len(HEADER)
ROTARY_FUNCTIONS = frozenset({"Browse"})
"""CC functions that are endless encoders (relative: 1 = down, 127 = up), not faders."""
CONTINUOUS_FUNCTIONS = frozenset({
    "TempoSlider", "CrossFader", "ChannelFader", "Gain", "EQHigh", "EQMid", "EQLow", "SamplerVolume",
    "CrossFaderCurve", *(f"CFXParameterCH{n}" for n in range(1, 5)), *(f"FX{u}-{n}" for u in (1, 2) for n in (1, 2, 3)),
})
"""Knobs and faders: every shipped row of these is ``KnobSliderHiRes`` (SamplerVolume once
``KnobSlider``), none is a button or an encoder (DDJ-FLX10, DDJ-GRV6, DDJ-SX files)."""
FAST_CONTINUOUS = frozenset({"TempoSlider", "CrossFader", "Gain", "EQHigh", "EQMid", "EQLow",
                             *(f"CFXParameterCH{n}" for n in range(1, 5))})
"""Continuous functions whose shipped rows carry ``Fast`` (ChannelFader and FX1-1 do not);
what ``Fast`` does is not documented."""
KNOB_TYPES = ("KnobSlider", "KnobSliderHiRes")
BUTTON_OPTIONS = "Fast;Priority=50"
PAD_OPTIONS = "Fast"
DECK_OFFSETS = tuple(str(d) for d in range(DECKS))
NO_DECKS = ("", "", "", "")

FUNCTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
"""How Rekordbox's function names look (``PlayPause``, ``4BeatLoop``, ``FX1-1On``,
``FX1Assign.CH1``): never a leading ``=``, ``+``, ``-`` or ``@``, never a separator."""

TYPES = ("Button", "Pad", "Rotary", "KnobSlider", "KnobSliderHiRes", "Indicator", "Value", "JogRotate", "JogTouch",
         "DdjSxPad", "DdjSx2Pad", "DdjSzPad", "DdjRxPad", "DdjRzPad", "Difference", "JogIndicator", "Parameter")
"""Control types seen in Rekordbox's files; Rekordbox itself writes ``DdjSxPad`` for an
imported ``Pad`` row (there are more; :func:`check_csv` accepts any word)."""
OPTION_FLAGS = {"Fast": False, "Priority": True, "Dual": False, "Blink": True, "RO": False,
                "Value": True, "Min": True, "Max": True}
"""Option flags seen in Rekordbox's files, and whether each takes ``=N``."""

_FX = ("ECHO", "REVERB", "DELAY", "FLANGER", "PHASER", "FILTER", "ROLL", "SLIPROLL", "SPIRAL", "TRANS", "PITCH", "HELIX")
CONFIRMED_FUNCTIONS = frozenset({
    "PlayPause", "Cue", "JumpToTrackStart", "Sync", "Master", "KeySync", "KeyReset", "MasterTempo",
    "TempoRange", "TempoReset", "TempoSlider", "SyncRate", "Quantize", "TapBpm", "Slip", "Vinyl",
    "SlipReverse", "Reverse", "LoopIn", "LoopOut", "ReloopExit", "ActiveLoop", "4BeatLoop", "LoopHalf",
    "LoopDouble", "Jump4Prev", "Jump4Fwd", "Jump16Prev", "Jump16Fwd", "SearchRev", "SearchFwd", "Memory",
    "Delete", "KeyShift", "Load", "Gain", "EQHigh", "EQMid", "EQLow", "ChannelFader", "HeadphoneCue",
    "CrossFader", "CrossfaderAssign.A", "CrossfaderAssign.Thru", "CrossfaderAssign.B", "CFXOn", "CFXSelect",
    "FX1-1On", "FX1BeatUp", "FX1BeatDown", "FX1AutoBeat", "FX1TapBeat", "Browse", "Back", "Forward",
    "BrowseJumpUp", "BrowseJumpDown", "AreaLeft", "AreaRight", "PlayPausePreview", "MasterCue", "SamplerVolume",
    "FX1-1",  # beat FX depth: DDJ-GRV6 and DDJ-FLX10 ("FX1-1 Effect Depth")
    *(f"CFX{n}On" for n in range(1, 7)),
    *(f"CFXParameterCH{n}" for n in range(1, 5)),
    *(f"FX1-1Select.{fx}" for fx in _FX),
    *(f"FX1Assign.CH{n}" for n in range(1, 5)), "FX1Assign.MASTER",
    *(f"PAD{n}_HotCue" for n in range(1, 9)),
    *(f"PAD{n}_BeatJump" for n in range(1, 9)),
    *(f"PAD{n}_Sampler" for n in range(1, 9)),
    *(f"PAD{n}_BeatLoop" for n in range(5, 13)),  # PAD1-4_BeatLoop appear in no shipped file
})
"""Function names seen in the mapping files Rekordbox 7 ships (DDJ-FLX10, DDJ-GRV6)."""

PAD_FAMILIES = {"BeatLoop": "beat-loop", "BeatJump": "beat-jump"}
"""Context function names that mean "the pad of this family holding the key's length"."""
FIXED_LENGTHS = {"4BeatLoop": "a 4-beat loop", "Jump4Prev": "4 beats back", "Jump4Fwd": "4 beats forward",
                 "Jump16Prev": "16 beats back", "Jump16Fwd": "16 beats forward",
                 "LoopHalf": "the loop halved", "LoopDouble": "the loop doubled"}
"""Functions whose effect is fixed by their name: no Rekordbox setting involved."""
_FORMULA_START = ("=", "+", "-", "@")


# --- the rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MappingRow:
    """One data row of a mapping file; codes are ``SSDD`` hex strings or empty, deck
    cells offsets (``"0"``…``"15"``) or full codes."""

    name: str
    function: str
    type: str
    input: str
    input_decks: tuple[str, ...]
    output: str = ""
    output_decks: tuple[str, ...] = NO_DECKS
    option: str = ""
    comment: str = ""
    line: int = 0
    """Where it was read (0: built here)."""

    @property
    def per_deck(self) -> bool:
        return any(self.input_decks)

    def input_codes(self) -> tuple[str, ...]:
        """The code each deck sends (four), or the one code of a global control."""
        return deck_codes(self.input, self.input_decks)

    def output_codes(self) -> tuple[str, ...]:
        return deck_codes(self.output, self.output_decks)

    def options(self) -> dict[str, int | None]:
        """``"Fast;Priority=50"`` -> ``{"Fast": None, "Priority": 50}``."""
        found: dict[str, int | None] = {}
        for flag in filter(None, self.option.split(";")):
            key, _, value = flag.partition("=")
            found[key] = int(value) if value else None
        return found

    def cells(self) -> list[str]:
        return [self.name, self.function, self.type, self.input, *self.input_decks,
                self.output, *self.output_decks, self.option, self.comment]


@dataclass(frozen=True)
class Mapping:
    device: str
    rows: list[MappingRow]


def code(status: int, channel: int, number: int) -> str:
    """``code(0x90, 0, 11) == "900B"``: status nibble and channel, then the data byte."""
    return f"{(status & 0xF0) | channel:02X}{number:02X}"


def decode(text: str) -> tuple[int, int, int]:
    """``"B640"`` -> ``(0xB0, 6, 64)``: status, channel, note or CC number."""
    value = int(text, 16)
    return value >> 8 & 0xF0, value >> 8 & 0x0F, value & 0xFF


def deck_codes(base: str, decks: tuple[str, ...]) -> tuple[str, ...]:
    """Both deck forms to full codes: ``("900B", ("0","1","2","3"))`` and
    ``("", ("900B","910B","920B","930B"))`` give the same four; no deck cells: ``(base,)``."""
    if not any(decks):
        return (base,) if base else ()
    if not base:
        return tuple(decks)
    status, channel, number = decode(base)
    return tuple(code(status, channel + int(offset), number) for offset in decks if offset)


# --- pads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PadLayout:
    """What the DJ's pads hold in Rekordbox: ``beat_loop[i]`` the loop length (beats) on
    beat-loop pad i+1, ``beat_jump[i]`` the jump on beat-jump pad i+1 (``"-8"`` back,
    ``"+8"`` forward); ``None`` for a pad djtui leaves alone."""

    beat_loop: tuple[str | None, ...]
    beat_jump: tuple[str | None, ...]

    @classmethod
    def from_config(cls, config: RekordboxConfig) -> PadLayout:
        return cls(_pads(config.beat_loop_pads, "beat_loop_pads", signed=False),
                   _pads(config.beat_jump_pads, "beat_jump_pads", signed=True))

    def pad_for(self, family: str, length: str) -> tuple[int, str] | None:
        """``(pad number 1-8, Rekordbox function)`` of the pad holding ``length``."""
        if family == "BeatLoop":
            pads, function = self.beat_loop, "PAD{}_BeatLoop"
            shift = 4  # Rekordbox numbers the beat-loop pads 5-12 (its shipped files)
        else:
            pads, function, shift = self.beat_jump, "PAD{}_BeatJump", 0
        for pad, held in enumerate(pads, start=1):
            if held is not None and _same_length(held, length):
                return pad, function.format(pad + shift)
        return None


def _pads(text: str, setting: str, *, signed: bool) -> tuple[str | None, ...]:
    words = text.split()
    if len(words) > 8:
        raise DjtuiError(f"[rekordbox] {setting} names {len(words)} pads; Rekordbox has 8",
                         "one length per pad, pads 1-8, '-' for a pad djtui leaves alone")
    pads: list[str | None] = []
    for word in words:
        if word == "-":
            pads.append(None)
            continue
        sign, number = (word[0], word[1:]) if word[:1] in "+-" else ("", word)
        if signed != bool(sign) or _beats(number) is None:
            example = "'-8' (8 beats back) or '+8' (forward)" if signed else "'8' or '1/4' (beats)"
            raise DjtuiError(f"[rekordbox] {setting}: '{word}' is not a pad length", f"write each as {example}")
        pads.append(word)
    return tuple(pads)


def _beats(text: str) -> Fraction | None:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _same_length(a: str, b: str) -> bool:
    sign_a, sign_b = a[0] if a[0] in "+-" else "", b[0] if b[0] in "+-" else ""
    return sign_a == sign_b and _beats(a.lstrip("+-")) == _beats(b.lstrip("+-"))


def length_of(key: str) -> str | None:
    """The length a key names: ``"8"`` -> ``"8"``, ``"back 8"`` -> ``"-8"``,
    ``"forward 1/2"`` -> ``"+1/2"``; ``None`` if it names none."""
    words = key.split()
    numbers = [w for w in words if _beats(w) is not None]
    if len(numbers) != 1:
        return None
    sign = "-" if {"back", "backward", "backwards"} & set(words) else "+" if {"forward", "forwards"} & set(words) else ""
    return sign + numbers[0]


def _spoken(length: str) -> str:
    sign, number = (length[0], length[1:]) if length[0] in "+-" else ("", length)
    beats = f"{number} beat" if Fraction(number) <= 1 else f"{number} beats"
    return beats + {"-": " back", "+": " forward", "": ""}[sign]


# --- export -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Export:
    """A mapping ready to write, and what the DJ must know about it."""

    rows: list[MappingRow]
    unmapped: list[str] = field(default_factory=list)
    """Commands that map to nothing (no pad holds their length): saying them does nothing."""
    unverified: list[str] = field(default_factory=list)
    """Function names not seen in Rekordbox's own files."""
    settings: list[str] = field(default_factory=list)
    """The Rekordbox settings that make the file true."""

    def row_for(self, command: MidiCommand) -> MappingRow | None:
        """The row Rekordbox maps ``command`` to: what it will do when djtui sends it
        (``PAD10_BeatLoop`` for the context's ``BeatLoop`` of 8 beats); ``None`` when no
        row takes it (no pad holds that length: Rekordbox does nothing)."""
        sent = code(0x90 if command.type == "note" else 0xB0, command.channel, command.number)
        return next((row for row in self.rows if sent in row.input_codes()), None)


def plan_export(context: Context, layout: PadLayout | None = None) -> Export:
    """The rows for the context's actions: one per distinct (function, MIDI code), deck
    rows first, in context order.

    Intents that press the same control (``play`` and ``pause`` both press PlayPause)
    share one row. Two different functions on one MIDI code would make Rekordbox do
    both, and a press on channels 9-16 could be mistaken for a report: both are a
    :class:`DjtuiError`, as is a function name that is not one (a formula, a comma).
    """
    layout = layout or PadLayout.from_config(RekordboxConfig())
    rows: dict[tuple[str, str, bool], MappingRow] = {}
    labels: dict[tuple[str, str, bool], list[str]] = {}
    owner: dict[tuple[int, int, int], str] = {}
    pads_used: dict[str, dict[int, str]] = {"BeatLoop": {}, "BeatJump": {}}
    unmapped: list[str] = []
    for binding in context.bindings():
        action, key, label, function, number = (binding.intent.action, binding.key, binding.label, binding.function,
                                                binding.number)
        assert action is not None and number is not None
        if function in PAD_FAMILIES:
            length = length_of(key or "")
            if length is None:
                raise DjtuiError(f"{context.name}: '{label}' uses {function}, but its key names no length",
                                 f"give the action a key such as \"{{beats}}\" for a {PAD_FAMILIES[function]} pad")
            pad = layout.pad_for(function, length)
            if pad is None:
                unmapped.append(f"{label} (no {PAD_FAMILIES[function]} pad holds {_spoken(length)})")
                continue
            pads_used[function][pad[0]] = length
            function = pad[1]
        _check_name(function, context.name)
        per_deck = action.channel is None
        channel = 0 if per_deck else action.channel
        assert channel is not None
        if channel >= FEEDBACK_OFFSET:
            raise DjtuiError(f"{context.name}: '{label}' presses on MIDI channel {channel + 1}",
                             f"use channels 1-{FEEDBACK_OFFSET}: channels {FEEDBACK_OFFSET + 1}-16 carry "
                             "Rekordbox's reports")
        status = 0x90 if action.type == "note" else 0xB0
        for ch in (range(DECKS) if per_deck else (channel,)):
            other = owner.setdefault((status, ch, number), function)
            if other != function:
                kind = "note" if status == 0x90 else "CC"
                raise DjtuiError(
                    f"{context.name}: {function} and {other} both use {kind} {number} on MIDI channel {ch + 1}",
                    "give one of them another number in the context file",
                )
        input_code = code(status, channel, number)
        row_key = (function, input_code, per_deck)
        labels.setdefault(row_key, [])
        if label not in labels[row_key]:
            labels[row_key].append(label)
        if row_key in rows:
            continue
        decks = DECK_OFFSETS if per_deck else NO_DECKS
        reported = reported_state(action, function) is not None
        if action.type != "note":
            kind = "Rotary" if function in ROTARY_FUNCTIONS else "KnobSlider"
        else:
            kind = "Pad" if function.startswith("PAD") else "Button"
        rows[row_key] = MappingRow(
            name=function,
            function=function,
            type=kind,
            input=input_code,
            input_decks=decks,
            output=code(0x90, channel + FEEDBACK_OFFSET, number) if reported else "",
            output_decks=decks if reported else NO_DECKS,
            option={"Button": BUTTON_OPTIONS, "Pad": PAD_OPTIONS}.get(kind, ""),
        )
    out = [replace(row, comment=_free_text("djtui: " + " / ".join(labels[k]))) for k, row in rows.items()]
    out += _control_rows(context, owner)
    out = [r for r in out if r.per_deck] + [r for r in out if not r.per_deck]
    unverified = sorted({r.name for r in out} - CONFIRMED_FUNCTIONS)
    return Export(out, unmapped, unverified, _settings(out, pads_used) + _control_settings(context))


def _control_rows(context: Context, owner: dict[tuple[int, int, int], str]) -> list[MappingRow]:
    """A row for each knob and fader (one per deck for a per-deck function name), their
    CCs (and LSB CCs) reserved in ``owner`` against every other row's."""
    rows = []
    for control in context.controls.values():
        decks: list[int | None] = list(range(1, DECKS + 1)) if control.per_deck else [None]
        per_function = "{deck}" in control.function
        for deck in decks:
            function = control.function_for(deck)
            _check_name(function, context.name)
            channel = control.channel_for(deck)
            if channel >= FEEDBACK_OFFSET:
                raise DjtuiError(f"{context.name}: control '{control.name}' is on MIDI channel {channel + 1}",
                                 f"use channels 1-{FEEDBACK_OFFSET}: channels {FEEDBACK_OFFSET + 1}-16 carry "
                                 "Rekordbox's reports")
            for number, part in ((control.cc, ""), (control.cc + 32, " (its LSB)")) if control.hires else \
                    ((control.cc, ""),):
                other = owner.setdefault((0xB0, channel, number), function + part)
                if other != function + part:
                    raise DjtuiError(f"{context.name}: {function}{part} and {other} both use CC {number} on MIDI "
                                     f"channel {channel + 1}",
                                     "give one of them another number in the context file (a 14-bit control "
                                     "also takes CC+32)")
        bits = f"14-bit: MSB CC {control.cc} + LSB CC {control.cc + 32}" if control.hires else f"CC {control.cc}"
        row = MappingRow(name="", function="", type="KnobSliderHiRes" if control.hires else "KnobSlider",
                         input="", input_decks=NO_DECKS, option="Fast" if control.function_for(1) in FAST_CONTINUOUS
                         else "", comment=_free_text(f"djtui: {control.name} ({bits})"))
        if per_function:
            rows += [replace(row, name=control.function_for(d), function=control.function_for(d),
                             input=code(0xB0, control.channel_for(d), control.cc)) for d in range(1, DECKS + 1)]
        elif control.per_deck:
            rows.append(replace(row, name=control.function, function=control.function,
                                input=code(0xB0, 0, control.cc), input_decks=DECK_OFFSETS))
        else:
            rows.append(replace(row, name=control.function, function=control.function,
                                input=code(0xB0, control.channel_for(None), control.cc)))
    return rows


def _control_settings(context: Context) -> list[str]:
    """What the DJ must know about the knob and fader rows."""
    if not context.controls:
        return []
    settings = ["Knobs and faders are 14-bit KnobSliderHiRes rows. Rekordbox reports no knob positions (none "
                "found so far): djtui knows a knob only once it has set it, and a knob moved by hand in "
                "Rekordbox is not seen."]
    for control in context.controls.values():
        if control.span and control.centre is not None:
            half = control.span / 2
            settings.append(f"{control.function_for(1)}: the context takes its travel as ±{half:g} {control.unit} "
                            f"(Rekordbox's tempo range); if yours differs, set 'span' of control '{control.name}' "
                            "to twice it. Which end is faster is unverified.")
    return settings


def _describe_move(context: Context, intent: Intent, move: MoveSpec) -> str:
    """What a knob or fader intent moves: its controls (by the slot value that picks
    each), their CCs, and whether it ramps or cuts: ``"low EQLow, mid EQMid, high EQHigh
    · CCs 61–63, 14-bit, ramped · on deck ch 1–4"``."""
    import re

    pattern = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>\\w+)", re.escape(move.control)) + "$")
    allowed: dict[str, set[str]] = {}  # the values each slot of the template can take
    for expression in intent.expressions:
        for slot in expression.slots():
            if slot.type in context.slot_types:
                allowed.setdefault(slot.name, set()).update(context.slot_types[slot.type].values)
    picked = [(match, control) for control in context.controls.values()
              if (match := pattern.match(control.name))
              and all(value in allowed.get(name, {value}) for name, value in match.groupdict().items())]
    if not picked:
        return f"moves {move.control} (no such control)"
    names = [" ".join([*(g for g in match.groups() if g != control.name), control.function.replace("{deck}", "N")])
             for match, control in picked]
    ccs = sorted({control.cc for _, control in picked})
    which = f"CC {ccs[0]}" if len(ccs) == 1 else f"CCs {ccs[0]}–{ccs[-1]}" \
        if ccs == list(range(ccs[0], ccs[-1] + 1)) else f"CCs {', '.join(map(str, ccs))}"
    bits = "14-bit" if all(control.hires for _, control in picked) else "7-bit"
    how = "at once" if move.cut else "ramped"
    channels = {control.channel for _, control in picked}
    where = " and ".join((["on deck ch 1–4"] if None in channels else [])
                         + [f"ch {c + 1}" for c in sorted(c for c in channels if c is not None)])
    return f"{', '.join(names)} · {which}, {bits}, {how} · {where}"


def describe_sends(context: Context, intent: str, export: Export | None) -> str:
    """What ``intent`` sends, as Rekordbox will see it: the mapping's row names (with
    the slot value each is for) and the messages, e.g. ``"PlayPause · note 11 on deck ch
    1–4"`` or ``"8 PAD10_BeatLoop, 16 PAD11_BeatLoop · notes 25–26 on deck ch 1–4"``.
    A length no pad holds says so; a control word says it stays in djtui. Without an
    ``export`` (a context that cannot be mapped) the context's own names are shown."""
    spec = context.intents[intent]
    if spec.control:
        return f"nothing to Rekordbox: djtui's own {spec.control}"
    if spec.move is not None:
        return _describe_move(context, spec, spec.move)
    bindings = [b for b in context.bindings() if b.intent.name == intent]
    action = spec.action
    if action is None or not bindings:
        return "—"
    channel = 0 if action.channel is None else action.channel
    names = []
    for binding in bindings:
        assert binding.number is not None
        command = MidiCommand(binding.function, action.type, channel, binding.number, action.value)
        row = export.row_for(command) if export is not None else None
        name = row.name if row is not None else binding.function if export is None else \
            f"{binding.function} (no pad holds it: nothing)"
        names.append(f"{binding.key} {name}" if binding.key is not None else name)
    names = list(dict.fromkeys(names))
    numbers = sorted({b.number for b in bindings if b.number is not None})
    kind = "note" if action.type == "note" else "CC"
    if len(numbers) == 1:
        which = f"{kind} {numbers[0]}"
    elif numbers == list(range(numbers[0], numbers[-1] + 1)):
        which = f"{kind}s {numbers[0]}–{numbers[-1]}"
    else:
        which = f"{kind}s {', '.join(map(str, numbers))}"
    if action.type != "note":
        which += f" = {action.value}"
    where = f"on deck ch 1–{DECKS}" if action.channel is None else f"ch {action.channel + 1}"
    return f"{', '.join(names)} · {which} {where}"


def _check_name(function: str, context_name: str) -> None:
    if not FUNCTION_NAME.fullmatch(function):
        raise DjtuiError(f"{context_name}: {function!r} is not a Rekordbox function name",
                         "use the name from Rekordbox's MIDI settings (letters, digits, '.', '-', '_')")


def _free_text(text: str) -> str:
    """Text safe in one cell: Rekordbox's files carry no CSV quoting, so separators,
    quotes and line breaks go, and a leading formula character (``=``, ``+``, ``-``,
    ``@``) is kept from starting the cell (a spreadsheet would run it)."""
    text = " ".join(text.replace(",", ";").replace('"', "'").split())
    return "'" + text if text.startswith(_FORMULA_START) else text


def _settings(rows: list[MappingRow], pads_used: dict[str, dict[int, str]]) -> list[str]:
    settings = ["Rekordbox lists MIDI ports when it starts: start djtui first (or restart Rekordbox).",
                "Performance mode; Preferences > Controller > MIDI: choose the djtui device, Import this file."]
    if loops := pads_used["BeatLoop"]:
        held = ", ".join(f"pad {pad} = {_spoken(loops[pad])}" for pad in sorted(loops))
        settings.append(f"Beat-loop pads (PAD{min(loops) + 4}_BeatLoop…PAD{max(loops) + 4}_BeatLoop): {held}. "
                        "Check the BEAT LOOP pad mode page shows these; if not, set [rekordbox] beat_loop_pads "
                        "to what it shows and export again.")
    if jumps := pads_used["BeatJump"]:
        held = ", ".join(f"pad {pad} = {_spoken(jumps[pad])}" for pad in sorted(jumps))
        settings.append(f"Beat-jump pads: {held}. Check the BEAT JUMP pad mode shows these (jump range 1/2x, 2x "
                        "changes them); if not, set [rekordbox] beat_jump_pads and export again.")
    fixed = sorted({r.name for r in rows} & set(FIXED_LENGTHS))
    if fixed:
        settings.append("Need no setting: " + ", ".join(f"{f} ({FIXED_LENGTHS[f]})" for f in fixed) + ".")
    return settings


def _check_device(device_name: str) -> None:
    if not device_name or any(c in device_name for c in ',\r\n"') or device_name.startswith(_FORMULA_START):
        raise DjtuiError(f"device name {device_name!r} cannot go in a mapping file",
                         "use a name without commas, quotes or line breaks that starts with a letter or digit")


def render_csv(export: Export, device_name: str = "djtui") -> str:
    """The file's text, CRLF line ends as in Rekordbox's own files."""
    _check_device(device_name)
    if not export.rows:
        raise DjtuiError("no intent of the context sends MIDI Rekordbox can map",
                         "add 'action:' to its intents, or export another context")
    blank = "," * (COLUMNS - 1)
    lines = [f"@file,1,{device_name}", ",".join(HEADER)]
    for title, section in (("# Deck", [r for r in export.rows if r.per_deck]),
                           ("# Global", [r for r in export.rows if not r.per_deck])):
        if not section:
            continue
        if len(lines) > 2:
            lines.append(blank)
        lines.append(title + blank)
        lines.extend(",".join(r.cells()) for r in section)
    return "\r\n".join(lines) + "\r\n"


def export_csv(context: Context, path: str | Path, device_name: str = "djtui",
               layout: PadLayout | None = None) -> Export:
    """Write the context's mapping for Rekordbox to ``path``, atomically: an existing
    file is replaced whole or not at all. A missing or read-only folder is a
    :class:`DjtuiError`."""
    path = Path(path)
    export = plan_export(context, layout)
    text = render_csv(export, device_name)
    if not path.parent.is_dir():
        raise DjtuiError(f"cannot write {path}: the folder {path.parent} does not exist",
                         "create the folder first, or give another path")
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise DjtuiError(f"cannot write {path}: {exc.strerror or exc}",
                         "choose a folder you can write to (e.g. your home folder)") from None
    return export


# --- reading ----------------------------------------------------------------------------

_CODE = re.compile(r"[89A-Ea-e][0-9A-Fa-f][0-7][0-9A-Fa-f]")
_OFFSET = re.compile(r"\d{1,2}")


def parse_csv(text: str, where: str = "<mapping>") -> tuple[Mapping, list[str]]:
    """The mapping in ``text`` and every problem found, each ``where:line: what``.

    Accepted as Rekordbox writes them: the header row or none, CRLF or LF, ``#`` rows
    (section titles, unassigned controls) and blank rows skipped, deck cells as offsets
    or full codes, the option flags of :data:`OPTION_FLAGS`. A row with a problem is
    left out of the mapping.
    """
    lines = text.splitlines()
    if not lines or not lines[0].startswith("@file,"):
        return Mapping("", []), [f"{where}:1: not a Rekordbox mapping file (no '@file,1,<device>' line)"]
    head = lines[0].split(",")
    problems = []
    if len(head) < 3 or head[1] != "1":
        problems.append(f"{where}:1: expected '@file,1,<device>', got {lines[0]!r}")
    device = head[2] if len(head) > 2 else ""
    rows: list[MappingRow] = []
    for number, line in enumerate(lines[1:], start=2):
        cells = line.split(",")
        if not "".join(cells).strip():
            continue
        if cells[0] == "#name" and tuple(cells) != HEADER:
            problems.append(f"{where}:{number}: the header is not Rekordbox's 15 columns ({','.join(HEADER)})")
            continue
        if cells[0].startswith("#"):
            continue
        if len(cells) != COLUMNS:
            problems.append(f"{where}:{number}: {len(cells)} columns, expected {COLUMNS}")
            continue
        row = MappingRow(cells[0], cells[1], cells[2], cells[3], tuple(cells[4:8]), cells[8],
                         tuple(cells[9:13]), cells[13], cells[14], line=number)
        found = _row_problems(row)
        problems.extend(f"{where}:{number}: {what}" for what in found)
        if not found:
            rows.append(row)
    problems.extend(f"{where}:{line}: {what}" for line, what in _knob_problems(rows))
    return Mapping(device, rows), problems


def _knob_problems(rows: list[MappingRow]) -> list[tuple[int, str]]:
    """What Rekordbox's own files never do with knobs and faders: a continuous function
    on a button, a knob or encoder on a note, a 14-bit MSB past CC 31, or another row on
    the CC where a 14-bit control's LSB goes."""
    found = []
    inputs: dict[tuple[int, int], MappingRow] = {}
    for row in rows:
        for text in row.input_codes():
            status, channel, number = decode(text)
            inputs.setdefault((channel, number) if status == 0xB0 else (-1 - channel, number), row)
    for row in rows:
        if row.name in CONTINUOUS_FUNCTIONS and row.type not in KNOB_TYPES:
            found.append((row.line, f"{row.name} is a knob or fader: Rekordbox's own files type it KnobSliderHiRes "
                                    f"(or KnobSlider), not {row.type}"))
        if row.type not in (*KNOB_TYPES, "Rotary"):
            continue
        for text in row.input_codes():
            status, channel, number = decode(text)
            if status != 0xB0:
                found.append((row.line, f"{row.type} {row.name} is driven by control changes (Bn…), not {text}"))
            elif row.type == "KnobSliderHiRes" and number > 0x1F:
                found.append((row.line, f"KnobSliderHiRes {row.name}: MSB CC {number} (0x{number:02X}) leaves no "
                                        f"room for its LSB on CC {number + 32}: 14-bit controls use CC 0-31"))
            elif row.type == "KnobSliderHiRes" and (other := inputs.get((channel, number + 32))) is not None:
                found.append((row.line, f"KnobSliderHiRes {row.name}'s LSB (CC {number + 32}, channel {channel + 1}) "
                                        f"is also {other.name}'s input (line {other.line})"))
    return list(dict.fromkeys(found))  # a row's four deck codes share one problem: said once


def _row_problems(row: MappingRow) -> list[str]:
    found = []
    if not FUNCTION_NAME.fullmatch(row.name):
        found.append(f"{row.name!r} is not a Rekordbox function name")
    elif (meant := misspelling_of(row.name, CONFIRMED_FUNCTIONS)) is not None:
        found.append(f"function {row.name!r} is not a Rekordbox function: did you mean {meant}?")
    if not row.type.isalpha():
        found.append(f"type {row.type!r} is not a control type ({', '.join(TYPES)}, …)")
    elif (meant := misspelling_of(row.type, TYPES)) is not None:
        found.append(f"type {row.type!r} is not a Rekordbox control type: did you mean {meant}?")
    codes = _code_problems("input", row.input, row.input_decks) + _code_problems("output", row.output, row.output_decks)
    found += codes
    if not codes and not row.input_codes() and row.type != "Indicator":
        found.append("no input code (only an Indicator row is output-only)")
    for flag in filter(None, row.option.split(";")):
        key, eq, value = flag.partition("=")
        if key not in OPTION_FLAGS:
            found.append(f"unknown option {flag!r} (known: {', '.join(OPTION_FLAGS)})")
        elif OPTION_FLAGS[key] != bool(eq) or (eq and not value.isdigit()):
            found.append(f"option {flag!r}: {key} " + ("takes =N (a whole number)" if OPTION_FLAGS[key] else "takes no value"))
    return found


def _code_problems(column: str, base: str, decks: tuple[str, ...]) -> list[str]:
    if base and not _CODE.fullmatch(base):
        return [f"{column} code {base!r} is not a MIDI code (4 hex digits: status 8n/9n/Bn…, then 00-7F)"]
    filled = [d for d in decks if d]
    if not filled:
        return []
    if base:  # offsets added to the channel
        bad = [d for d in filled if not _OFFSET.fullmatch(d)]
        if bad:
            return [f"{column} deck cell {bad[0]!r} is not a channel offset (with a code in '{column}', "
                    "the deck cells are offsets such as 0,1,2,3)"]
        channel = decode(base)[1]
        if channel + max(int(d) for d in filled) > 15:
            return [f"{column} deck offsets take {base} past MIDI channel 16"]
        return []
    bad = [d for d in filled if not _CODE.fullmatch(d)]
    if bad:
        return [f"{column} deck cell {bad[0]!r} is not a MIDI code (with '{column}' empty, "
                "each deck cell is a full code such as 9646)"]
    return []


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise DjtuiError(f"{path}: no such file", "give the path of a Rekordbox mapping CSV") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DjtuiError(f"{path}: cannot read ({exc})", "give the path of a Rekordbox mapping CSV") from None


def misspelling_of(name: str, known: Iterable[str]) -> str | None:
    """The known name ``name`` most likely misspells (``Synk`` → ``Sync``, ``Buton`` →
    ``Button``, ``playpause`` → ``PlayPause``), else ``None``: for a known name, and for
    one that differs from the closest only in its digits (``FX2-1On`` beside ``FX1-1On``
    is another unit, not a typo; Rekordbox has far more functions than djtui has seen)."""
    from rapidfuzz.distance import Levenshtein

    known = sorted(known)
    if name in known:
        return None
    distance, closest = min((Levenshtein.distance(name.casefold(), k.casefold()), k) for k in known)
    if distance and re.sub(r"\d", "", name.casefold()) == re.sub(r"\d", "", closest.casefold()):
        return None
    return closest if distance <= min(2, max(1, len(name) // 4)) else None


def unverified(mapping: Mapping, where: str) -> list[str]:
    """``file:line: …`` for each row whose function or type is not among those seen in
    the files Rekordbox ships and is no misspelling of one either: it may be right, but
    djtui cannot tell."""
    notes = []
    for row in mapping.rows:
        names = [f"function {row.name!r}"] if row.name not in CONFIRMED_FUNCTIONS else []
        names += [f"type {row.type!r}"] if row.type not in TYPES else []
        if names:
            notes.append(f"{where}:{row.line}: note: {' and '.join(names)} not seen in the files Rekordbox ships "
                         "(unverified: check it in Rekordbox's MIDI settings)")
    return notes


def _in_line_order(problems: list[str], where: str) -> list[str]:
    """``problems`` (each ``where:line: what``) sorted by line, in found order within one."""
    def line(problem: str) -> int:
        number = problem[len(where) + 1:].partition(":")[0]
        return int(number) if number.isdigit() else 0

    return sorted(problems, key=line)


def check_csv(path: str | Path) -> list[str]:
    """Every problem in the mapping file at ``path``, each ``file:line: what``, in line order."""
    path = Path(path)
    return _in_line_order(parse_csv(_read_text(path), str(path))[1], str(path))


def read_csv(path: str | Path) -> Mapping:
    """Parse a Rekordbox mapping file; any problem is a :class:`DjtuiError` naming its lines."""
    path = Path(path)
    mapping, problems = parse_csv(_read_text(path), str(path))
    if problems:
        raise DjtuiError("\n".join(_in_line_order(problems, str(path))), f"`djtui midi check {path}` lists every problem")
    return mapping
