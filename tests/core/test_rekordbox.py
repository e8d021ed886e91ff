"""The Rekordbox MIDI Learn CSV: written as Rekordbox writes its own, read back by a
reader that knows only the reference's rules (../shared/reference/rekordbox-midi-csv.md),
and every file Rekordbox may write read by :func:`read_csv`."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from djtui.core.config import RekordboxConfig
from djtui.core.context import Context, command_for
from djtui.core.context_file import default_context, parse_context
from djtui.core.decks import FEEDBACK_OFFSET
from djtui.core.errors import DjtuiError
from djtui.core.records import MidiCommand
from djtui.core.rekordbox import (
    CONFIRMED_FUNCTIONS,
    HEADER,
    PadLayout,
    check_csv,
    describe_sends,
    export_csv,
    plan_export,
    read_csv,
    render_csv,
)

REPORTED = {"PlayPause", "Cue", "Sync", "Master", "ReloopExit", "Slip", "MasterTempo", "KeySync",
            "HeadphoneCue", "FX1-1On", "CFXOn"}
"""What issue 12 lists as state Rekordbox reports: play, cue, sync, master, loop, slip,
master tempo, key sync, headphone cue, FX on (and colour FX on)."""


# --- a reader written to the reference's rules, and nothing else -------------------------

def reference_read(text: str) -> tuple[str, list[dict]]:
    """Line 1 ``@file,1,<device>``; an optional header; ``#`` rows and blank rows ignored;
    15 cells a row; input/output either a code plus deck offsets added to its channel,
    or empty with a full code per deck; a global control has empty deck cells."""
    lines = text.split("\r\n") if "\r\n" in text else text.split("\n")
    assert lines[0].startswith("@file,1,")
    device = lines[0].split(",", 2)[2]
    rows = []
    for line in lines[1:]:
        cells = line.split(",")
        if not line or cells[0].startswith("#") or not any(cells):
            continue
        assert len(cells) == 15, line

        def codes(base: str, decks: list[str]) -> tuple[int, ...]:
            if not any(decks):
                return (int(base, 16),) if base else ()
            if not base:
                return tuple(int(d, 16) for d in decks)
            return tuple(int(base, 16) + (int(d) << 8) for d in decks)

        rows.append({"function": cells[0], "control": cells[1], "type": cells[2],
                     "in": codes(cells[3], cells[4:8]), "out": codes(cells[8], cells[9:13]),
                     "global": not any(cells[4:8]) and bool(cells[3]),
                     "option": cells[13], "comment": cells[14]})
    return device, rows


def without_header(text: str) -> str:
    return "\r\n".join(line for line in text.split("\r\n") if not line.startswith("#name,"))


def with_full_deck_codes(text: str) -> str:
    """The second form Rekordbox writes: ``input`` empty and a full code per deck."""
    out = []
    for line in text.split("\r\n"):
        cells = line.split(",")
        if len(cells) == 15 and not cells[0].startswith("#"):
            for base, first in ((3, 4), (8, 9)):
                if cells[base] and any(cells[first:first + 4]):
                    value = int(cells[base], 16)
                    cells[first:first + 4] = [f"{value + (int(d) << 8):04X}" for d in cells[first:first + 4]]
                    cells[base] = ""
        out.append(",".join(cells))
    return "\n".join(out)  # and LF line ends, as a text editor would leave them


def every_command(context: Context) -> Iterator[tuple[str, MidiCommand]]:
    """``(label, command)`` for every intent with every combination of slot values (a
    move: the first control change of its ramp, the MSB of a 14-bit value)."""
    for intent in context.intents.values():
        if intent.action is None and intent.move is None:
            continue
        slot_types = {s.name: s.type for e in intent.expressions for s in e.slots()}
        names = sorted(slot_types)
        for values in itertools.product(*(context.slot_types[slot_types[n]].values for n in names)):
            slots = dict(zip(names, values))
            if intent.move is None:
                yield f"{intent.name} {slots}", command_for(intent, slots)
                continue
            request = intent.move.request(slots, context.controls)
            control = request.control
            yield f"{intent.name} {slots}", MidiCommand(request.function, "cc14" if control.hires else "cc",
                                                        request.channel, control.cc, 8192)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("export") / "djtui.csv"
    export_csv(default_context(), path)
    return path.read_bytes()


# --- the exported file --------------------------------------------------------------------

def test_lines_end_in_crlf_as_in_rekordboxs_own_files(exported: bytes) -> None:
    assert exported.endswith(b"\r\n")
    assert exported.count(b"\n") == exported.count(b"\r\n")
    lines = exported.decode().split("\r\n")
    assert lines[0] == "@file,1,djtui"
    assert lines[1] == ",".join(HEADER)
    assert "# Deck,,,,,,,,,,,,,," in lines and "# Global,,,,,,,,,,,,,," in lines


@pytest.mark.parametrize("form", ["as written", "no header", "full deck codes, LF"])
def test_the_file_parses_with_the_references_rules_to_every_command_sent(exported: bytes, form: str,
                                                                        tmp_path: Path) -> None:
    text = exported.decode()
    text = {"as written": text, "no header": without_header(text), "full deck codes, LF": with_full_deck_codes(text)}[form]
    device, rows = reference_read(text)
    assert device == "djtui"
    mapped = {code: row["function"] for row in rows for code in row["in"]}
    sent = {}
    for label, command in every_command(default_context()):
        note_on = command.messages()[0]
        sent[note_on[0] << 8 | note_on[1]] = (label, command.function)
    assert set(sent) == set(mapped)  # every command reaches a row; no row is never sent
    for code, (label, function) in sent.items():
        if function in ("BeatLoop", "BeatJump"):  # the pad holding the length, from the config
            assert mapped[code].startswith("PAD") and mapped[code].endswith(f"_{function}"), label
        else:
            assert mapped[code] == function, label
    # read_csv reads the same form to the same codes
    path = tmp_path / "form.csv"
    path.write_text(text, encoding="utf-8", newline="")
    assert {int(c, 16): row.function for row in read_csv(path).rows for c in row.input_codes()} == mapped


def test_function_in_column_0_and_the_control_in_column_1(exported: bytes) -> None:
    _, rows = reference_read(exported.decode())
    assert all(row["control"] == row["function"] for row in rows)  # no buttons: the function again
    assert {"PlayPause", "Cue", "4BeatLoop", "Jump4Fwd", "FX1Assign.MASTER"} <= {r["function"] for r in rows}


def test_pad_functions_are_pad_rows_and_only_confirmed_beat_loop_pads(exported: bytes) -> None:
    _, rows = reference_read(exported.decode())
    pads = [r for r in rows if r["function"].startswith("PAD")]
    assert pads and all(r["type"] == "Pad" for r in pads)
    assert all(r["type"] != "Pad" for r in rows if not r["function"].startswith("PAD"))
    beat_loops = {r["function"] for r in pads if r["function"].endswith("_BeatLoop")}
    assert beat_loops and not beat_loops & {f"PAD{n}_BeatLoop" for n in range(1, 5)}


def test_every_function_whose_state_rekordbox_reports_has_an_output_code(exported: bytes) -> None:
    _, rows = reference_read(exported.decode())
    by_function = {r["function"]: r for r in rows}
    assert REPORTED <= set(by_function)
    for row in rows:
        if row["function"] in REPORTED:
            # one report per press, FEEDBACK_OFFSET channels up: never a press itself
            assert [o - (FEEDBACK_OFFSET << 8) for o in row["out"]] == list(row["in"]), row["function"]
        else:
            assert row["out"] == (), row["function"]
    pressed = {c for r in rows for c in r["in"]}
    assert not pressed & {c for r in rows for c in r["out"]}  # a port that loops back is harmless


def test_global_controls_have_no_deck_offsets(exported: bytes) -> None:
    _, rows = reference_read(exported.decode())
    by_function = {r["function"]: r for r in rows}
    for function in ("CFXOn", "FX1-1On", "FX1Assign.CH1", "FX1Assign.MASTER", "FX1-1Select.ECHO", "Browse", "Back"):
        assert by_function[function]["global"], function
    assert by_function["Browse"]["type"] == "Rotary" and by_function["EQLow"]["type"] == "KnobSliderHiRes"
    assert len(by_function["PlayPause"]["in"]) == 4 and not by_function["PlayPause"]["global"]


def test_only_function_names_rekordbox_ships_are_exported() -> None:
    export = plan_export(default_context())
    assert export.unverified == []
    assert export.unmapped == []


def test_intents_pressing_the_same_control_share_one_row(exported: bytes) -> None:
    _, rows = reference_read(exported.decode())
    functions = [r["function"] for r in rows]
    assert functions.count("PlayPause") == 1 and functions.count("CFXOn") == 1
    assert len(functions) == len(set(functions))
    assert next(r for r in rows if r["function"] == "PlayPause")["comment"] == "djtui: play / pause"


# --- loop and jump lengths ----------------------------------------------------------------

def test_loop_lengths_follow_the_pads_the_config_names() -> None:
    layout = PadLayout.from_config(RekordboxConfig(beat_loop_pads="8 16 - - - - - -", beat_jump_pads="-8 +8"))
    export = plan_export(default_context(), layout)
    comments = {r.comment.removeprefix("djtui: "): r.name for r in export.rows}
    assert comments["loop 8"] == "PAD5_BeatLoop"  # pad 1 of the beat-loop pads
    assert comments["loop 16"] == "PAD6_BeatLoop"
    assert comments["loop 4"] == "4BeatLoop"  # fixed by its name: no pad needed
    assert comments["beat_jump back 8"] == "PAD1_BeatJump" and comments["beat_jump forward 8"] == "PAD2_BeatJump"
    assert comments["beat_jump forward 16"] == "Jump16Fwd"
    assert "loop 1/4 (no beat-loop pad holds 1/4 beat)" in export.unmapped
    assert "beat_jump forward 32 (no beat-jump pad holds 32 beats forward)" in export.unmapped
    settings = "\n".join(export.settings)
    assert "pad 1 = 8 beats, pad 2 = 16 beats" in settings
    assert "pad 1 = 8 beats back, pad 2 = 8 beats forward" in settings
    assert "4BeatLoop (a 4-beat loop)" in settings and "start djtui first" in settings


def test_a_sent_command_is_named_as_rekordbox_maps_it() -> None:
    context = default_context()
    export = plan_export(context, PadLayout.from_config(RekordboxConfig()))
    loop_8 = command_for(context.intents["loop"], {"beats": "8", "deck": "2"})
    assert loop_8.function == "BeatLoop" and export.row_for(loop_8).name == "PAD10_BeatLoop"  # pad 6 of 5-12
    assert export.row_for(command_for(context.intents["play"], {"deck": "4"})).name == "PlayPause"
    assert export.row_for(command_for(context.intents["fx_on"], {})).name == "FX1-1On"
    unmapped = plan_export(context, PadLayout.from_config(RekordboxConfig(beat_loop_pads="8")))
    assert unmapped.row_for(command_for(context.intents["loop"], {"beats": "1/4", "deck": "1"})) is None


def test_what_a_command_sends_is_said_in_rekordboxs_names() -> None:
    context = default_context()
    export = plan_export(context)
    assert describe_sends(context, "play", export) == "PlayPause · note 11 on deck ch 1–4"
    assert describe_sends(context, "fx_on", export) == "FX1-1On · note 70 ch 5"
    assert describe_sends(context, "eq_kill", export) == "high EQHigh, mid EQMid, low EQLow · CCs 7, 11, 15, 14-bit, at once · on deck ch 1–4"
    assert describe_sends(context, "knob_to", export).startswith("EQHigh, EQMid, EQLow, Gain, CFXParameterCHN · ")
    assert describe_sends(context, "fade_in", export) == "ChannelFader · CC 19, 14-bit, ramped · on deck ch 1–4"
    assert describe_sends(context, "crossfader_to", export) == "CrossFader · CC 31, 14-bit, ramped · ch 5"
    loop = describe_sends(context, "loop", export)
    assert loop.startswith("1/4 PAD5_BeatLoop, ") and "4 4BeatLoop, 8 PAD10_BeatLoop" in loop
    assert loop.endswith(" · notes 20–27 on deck ch 1–4")
    assert describe_sends(context, "arm", export) == "nothing to Rekordbox: djtui's own arm"
    few_pads = plan_export(context, PadLayout.from_config(RekordboxConfig(beat_loop_pads="8")))
    assert "1/4 BeatLoop (no pad holds it: nothing)" in describe_sends(context, "loop", few_pads)


@pytest.mark.parametrize("setting, value", [
    ("beat_loop_pads", "8 eight"), ("beat_loop_pads", "-8"), ("beat_jump_pads", "8"),
    ("beat_loop_pads", "1 2 3 4 5 6 7 8 9"),
])
def test_a_pad_layout_that_is_not_one_is_a_clear_error(setting: str, value: str) -> None:
    with pytest.raises(DjtuiError, match=rf"\[rekordbox\] {setting}") as info:
        PadLayout.from_config(RekordboxConfig(**{setting: value}))
    assert info.value.hint


# --- refusals: nothing bad reaches the file -----------------------------------------------

def test_two_functions_on_one_code_are_refused(tmp_path: Path) -> None:
    context = parse_context("""
context:
  slots: {deck: {"1": [one]}}
  intents:
    cue: {expressions: ["cue $deck:deck"], action: {function: Cue, number: 12, channel: deck}}
    sync: {expressions: ["sync $deck:deck"], action: {function: Sync, number: 12, channel: deck}}
""")
    with pytest.raises(DjtuiError, match="Sync and Cue both use note 12"):
        export_csv(context, tmp_path / "bad.csv")
    assert not (tmp_path / "bad.csv").exists()


def test_a_press_on_a_report_channel_is_refused(tmp_path: Path) -> None:
    context = parse_context("""
context:
  intents:
    sync: {expressions: ["sync"], action: {function: Sync, number: 12, channel: 9}}
""")
    with pytest.raises(DjtuiError, match="channel 10") as info:
        export_csv(context, tmp_path / "bad.csv")
    assert "reports" in info.value.hint


@pytest.mark.parametrize("function", ["=HYPERLINK(\\\"x\\\")", "+cmd", "-2+3", "@SUM(1)", "Play,Pause", "Play Pause"])
def test_a_function_name_that_is_no_rekordbox_name_is_refused(tmp_path: Path, function: str) -> None:
    context = parse_context(f"""
context:
  intents:
    go: {{expressions: ["go"], action: {{function: "{function}", number: 12, channel: 4}}}}
""")
    with pytest.raises(DjtuiError, match="is not a Rekordbox function name"):
        export_csv(context, tmp_path / "bad.csv")
    assert not (tmp_path / "bad.csv").exists()


def test_free_text_never_makes_a_cell_or_a_row(tmp_path: Path) -> None:
    context = parse_context("""
context:
  slots:
    what: {"=1+1,\\"x\\"\\r\\n@evil": [evil]}
  intents:
    "=cmd|'/c calc',\\"x\\"":
      expressions: ["go $what:what"]
      action: {key: "{what}", function: {"=1+1,\\"x\\"\\r\\n@evil": Back}, number: {"=1+1,\\"x\\"\\r\\n@evil": 12}, channel: 4}
""")
    export_csv(context, tmp_path / "m.csv")
    lines = (tmp_path / "m.csv").read_bytes().decode().split("\r\n")
    assert lines[-1] == "" and len(lines) == 5  # @file, header, # Global, one row, end
    row = lines[3].split(",")
    assert len(row) == 15 and row[0] == "Back"
    assert '"' not in row[14] and not row[14].startswith(("=", "+", "-", "@"))
    assert row[14].startswith("djtui: =cmd|")


@pytest.mark.parametrize("device", ["a,b", "=cmd", "two\r\nlines", '"quoted"', ""])
def test_a_device_name_that_cannot_go_in_the_file_leaves_the_old_file(tmp_path: Path, device: str) -> None:
    path = tmp_path / "djtui.csv"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(DjtuiError, match="device name"):
        export_csv(default_context(), path, device_name=device)
    assert path.read_text(encoding="utf-8") == "old"


def test_exporting_into_a_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DjtuiError, match="does not exist") as info:
        export_csv(default_context(), tmp_path / "no such folder" / "djtui.csv")
    assert "create the folder" in info.value.hint
    assert not (tmp_path / "no such folder").exists()


def test_exporting_into_a_read_only_folder_is_one_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes anywhere chmod says no: use a read-only file system
        folder = Path("/proc")
    else:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o500)
    try:
        with pytest.raises(DjtuiError, match="cannot write") as info:
            export_csv(default_context(), folder / "djtui.csv")
    finally:
        if folder != Path("/proc"):
            folder.chmod(0o700)
    assert "folder you can write to" in info.value.hint


def test_rendering_is_the_same_as_writing(tmp_path: Path) -> None:
    export = export_csv(default_context(), tmp_path / "m.csv", device_name="booth")
    assert (tmp_path / "m.csv").read_bytes().decode() == render_csv(export, "booth")


# --- knobs and faders ----------------------------------------------------------------------

def test_knobs_and_faders_are_written_as_pioneers_shipped_rows(exported: bytes) -> None:
    _, rows = reference_read(exported.decode())
    by_function = {r["function"]: r for r in rows}
    for function in ("EQHigh", "EQMid", "EQLow", "Gain", "ChannelFader", "TempoSlider", "CrossFader", "FX1-1",
                     *(f"CFXParameterCH{n}" for n in range(1, 5))):
        row = by_function[function]
        assert row["type"] == "KnobSliderHiRes" and row["out"] == (), function  # Rekordbox reports no positions
        assert all(code >> 12 == 0xB and code & 0xFF <= 0x1F for code in row["in"]), function  # the MSB's CC
    assert by_function["EQLow"]["in"] == (0xB00F, 0xB10F, 0xB20F, 0xB30F) and not by_function["EQLow"]["global"]
    assert by_function["EQLow"]["option"] == "Fast" and by_function["ChannelFader"]["option"] == ""  # as shipped
    assert by_function["CrossFader"]["global"] and by_function["FX1-1"]["global"]
    # one colour FX depth per channel, each a global row on its deck's channel
    assert [by_function[f"CFXParameterCH{n}"]["in"] for n in range(1, 5)] == [(0xB017,), (0xB117,), (0xB217,), (0xB317,)]
    settings = plan_export(default_context()).settings
    assert any("djtui knows a knob only once it has set it" in line for line in settings)
    assert any(line.startswith("TempoSlider: the context takes its travel as ±10 %") for line in settings)


def test_a_fourteen_bit_controls_lsb_cc_is_reserved_against_every_other_row() -> None:
    text = default_context().text.replace("number: 64, value: 127, channel: 4}",
                                          "number: 63, value: 127, channel: 4}")  # browse_up on CC 63
    with pytest.raises(DjtuiError, match=r"CrossFader \(its LSB\) and Browse both use CC 63 on MIDI channel 5|"
                                         r"Browse and CrossFader \(its LSB\) both use CC 63"):
        plan_export(parse_context(text))


def test_check_knows_what_rekordbox_does_with_knobs(tmp_path: Path) -> None:
    path = tmp_path / "knobs.csv"
    path.write_text("\r\n".join([
        "@file,1,DDJ-TEST",
        "EQHigh,EQHigh,KnobSliderHiRes,B007,0,1,2,3,,,,,,Fast,EQ High",
        "EQLow,EQLow,Button,900F,0,1,2,3,,,,,,,",
        "Gain,Gain,KnobSliderHiRes,B024,0,1,2,3,,,,,,,",
        "ChannelFader,ChannelFader,KnobSliderHiRes,B013,0,1,2,3,,,,,,,",
        "Browse,Browse,Rotary,B033,,,,,,,,,,,",
        "Zoom,Zoom,Rotary,9640,,,,,,,,,,,",
        "PAD1_HotCue,PAD1_HotCue,DdjSxPad,9000,7,9,11,13,,,,,,Fast;,",  # as Rekordbox writes a Pad row back
    ]), encoding="utf-8")
    problems = check_csv(path)
    assert problems == [
        f"{path}:3: EQLow is a knob or fader: Rekordbox's own files type it KnobSliderHiRes (or KnobSlider), not Button",
        f"{path}:4: KnobSliderHiRes Gain: MSB CC 36 (0x24) leaves no room for its LSB on CC 68: 14-bit controls use "
        "CC 0-31",
        f"{path}:5: KnobSliderHiRes ChannelFader's LSB (CC 51, channel 1) is also Browse's input (line 6)",
        f"{path}:7: Rotary Zoom is driven by control changes (Bn…), not 9640",
    ]


# --- reading what Rekordbox writes --------------------------------------------------------

SHIPPED_STYLE = "\r\n".join([
    "@file,1,DDJ-TEST",
    ",".join(HEADER),
    "# Deck,,,,,,,,,,,,,,",
    "PlayPause,PlayPause,Button,900B,0,1,2,3,900B,0,1,2,3,Fast;Priority=50,Play/Pause",
    "JumpToTrackStart,Cue+Shift,Button,9048,0,1,2,3,9048,0,1,2,3,Fast;Priority=50,Jump to track start",
    "Master,Sync+Shift,Button,905C,0,1,2,3,905C,0,1,2,3,,Master On/Off",
    "Load,Load,Button,,9646,9647,9648,9649,,,,,,,Load to Deck",
    "PAD1_HotCue,PAD1.HotCue,Pad,9000,7,9,11,13,9000,7,9,11,13,Fast;Blink=500,HOT CUE1",
    "PAD5_BeatLoop,PAD1_BeatLoop,Pad,9060,7,9,11,13,9060,7,9,11,13,Fast;Dual,",
    "#,LoopIn+LongPress,Button,9010,0,1,2,3,,,,,,,unassigned",
    ",,,,,,,,,,,,,,",
    "# Global,,,,,,,,,,,,,,",
    "CFXOn,CFXOn,Button,9600,,,,,9600,,,,,RO;Fast,CFX On/Off",
    "FX1Assign.CH1,,Button,9410,,,,,,,,,,,FX1 On/Off",
    "Browse,Browse,Rotary,B640,,,,,,,,,,Value=64;Min=0;Max=127,Browse",
    "",
])


@pytest.mark.parametrize("form", ["shipped", "no header", "LF"])
def test_read_csv_reads_rekordboxs_files_in_every_form(tmp_path: Path, form: str) -> None:
    text = {"shipped": SHIPPED_STYLE, "no header": without_header(SHIPPED_STYLE),
            "LF": SHIPPED_STYLE.replace("\r\n", "\n")}[form]
    path = tmp_path / "ddj.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())  # with a UTF-8 byte order mark, as Windows tools write
    mapping = read_csv(path)
    assert mapping.device == "DDJ-TEST"
    rows = {r.name: r for r in mapping.rows}
    assert list(rows) == ["PlayPause", "JumpToTrackStart", "Master", "Load", "PAD1_HotCue", "PAD5_BeatLoop",
                          "CFXOn", "FX1Assign.CH1", "Browse"]
    assert rows["JumpToTrackStart"].function == "Cue+Shift"
    assert rows["Load"].input_codes() == ("9646", "9647", "9648", "9649")
    assert rows["PAD1_HotCue"].input_codes() == ("9700", "9900", "9B00", "9D00")
    assert rows["CFXOn"].input_codes() == ("9600",) and not rows["CFXOn"].per_deck
    assert rows["Browse"].options() == {"Value": 64, "Min": 0, "Max": 127}
    assert rows["PAD5_BeatLoop"].options() == {"Fast": None, "Dual": None}


def test_check_reports_each_problem_as_file_line_what(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    lines = SHIPPED_STYLE.split("\r\n")
    lines[3] = "PlayPause,PlayPause,Button,900B"  # line 4: cut short
    lines[4] = "JumpToTrackStart,Cue+Shift,Button,90G8,0,1,2,3,,,,,,Fast,"  # line 5: not hex
    lines[5] = "Master,Sync+Shift,Button,905C,0,1,2,3,,,,,,Fast;Bright=2,"  # line 6: unknown flag
    lines[6] = "Load,Load,Button,,9646,1,9648,9649,,,,,,,"  # line 7: an offset among full codes
    lines[7] = "=SUM(1),x,Pad,9000,7,9,11,13,,,,,,Priority,"  # line 8: a formula, and Priority without =N
    path.write_text("\r\n".join(lines), encoding="utf-8")
    problems = check_csv(path)
    assert problems == [
        f"{path}:4: 4 columns, expected 15",
        f"{path}:5: input code '90G8' is not a MIDI code (4 hex digits: status 8n/9n/Bn…, then 00-7F)",
        f"{path}:6: unknown option 'Bright=2' (known: Fast, Priority, Dual, Blink, RO, Value, Min, Max)",
        f"{path}:7: input deck cell '1' is not a MIDI code (with 'input' empty, each deck cell is a full code such as 9646)",
        f"{path}:8: '=SUM(1)' is not a Rekordbox function name",
        f"{path}:8: option 'Priority': Priority takes =N (a whole number)",
    ]
    with pytest.raises(DjtuiError, match=r"broken.csv:4: 4 columns, expected 15") as info:
        read_csv(path)
    assert "djtui midi check" in info.value.hint


def test_a_file_that_is_not_a_mapping_says_so(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text("name,function\n", encoding="utf-8")
    assert check_csv(path) == [f"{path}:1: not a Rekordbox mapping file (no '@file,1,<device>' line)"]
    with pytest.raises(DjtuiError, match="no such file"):
        check_csv(tmp_path / "missing.csv")


# --- the commands -------------------------------------------------------------------------

def test_the_export_command_writes_the_file_and_says_what_rekordbox_needs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from djtui.cli import main

    config = tmp_path / "config.toml"
    config.write_text('[midi]\noutput_port = "booth"\n[rekordbox]\nbeat_loop_pads = "1/4 1/2 1 2 4 8 16"\n')
    assert main(["--config", str(config), "midi", "export-rekordbox", str(tmp_path / "out.csv")]) == 0
    assert read_csv(tmp_path / "out.csv").device == "booth"  # the port's name: Rekordbox pairs them by it
    out = capsys.readouterr().out
    assert "Rekordbox functions for context 'dj', device 'booth'" in out
    assert "pad 6 = 8 beats, pad 7 = 16 beats" in out
    assert "Mapped to nothing" in out and "loop 32 (no beat-loop pad holds 32 beats)" in out
    assert main(["midi", "export-rekordbox", str(tmp_path / "x.csv"), "--context", str(tmp_path / "none.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["midi", "export-rekordbox", str(tmp_path / "nowhere" / "x.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_check_command_prints_file_line_what(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from djtui.cli import main

    good = tmp_path / "good.csv"
    export_csv(default_context(), good)
    assert main(["midi", "check", str(good)]) == 0
    assert "ok · device 'djtui'" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_bytes(good.read_bytes().replace(b"Fast;Priority=50,djtui: cue", b"Fast;Priority=x,djtui: cue"))
    assert main(["midi", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{bad}:5: option 'Priority=x': Priority takes =N")


def test_check_catches_misspelt_functions_and_types_and_names_the_closest(tmp_path: Path) -> None:
    path = tmp_path / "typos.csv"
    lines = SHIPPED_STYLE.split("\r\n")
    lines[5] = "Synk,Sync,Button,905C,0,1,2,3,,,,,,,"  # line 6
    lines[4] = "JumpToTrackStart,Cue+Shift,Buton,9048,0,1,2,3,,,,,,,"  # line 5
    lines[3] = "playpause,PlayPause,Button,900B,0,1,2,3,,,,,,,"  # line 4
    path.write_text("\r\n".join(lines), encoding="utf-8")
    assert check_csv(path) == [
        f"{path}:4: function 'playpause' is not a Rekordbox function: did you mean PlayPause?",
        f"{path}:5: type 'Buton' is not a Rekordbox control type: did you mean Button?",
        f"{path}:6: function 'Synk' is not a Rekordbox function: did you mean Sync?",
    ]


def test_a_name_far_from_every_known_one_is_noted_not_refused(tmp_path: Path) -> None:
    from djtui.core.rekordbox import misspelling_of, unverified

    assert misspelling_of("FX2-1On", CONFIRMED_FUNCTIONS) is None  # another FX unit, not a typo
    assert misspelling_of("SamplerMasterVolume", CONFIRMED_FUNCTIONS) is None
    path = tmp_path / "more.csv"
    lines = SHIPPED_STYLE.split("\r\n")
    lines[3] = "FX2-1On,FX2,Button,900B,0,1,2,3,,,,,,,"
    path.write_text("\r\n".join(lines), encoding="utf-8")
    assert check_csv(path) == []
    assert unverified(read_csv(path), str(path)) == [
        f"{path}:4: note: function 'FX2-1On' not seen in the files Rekordbox ships "
        "(unverified: check it in Rekordbox's MIDI settings)"]


def test_check_lists_problems_in_line_order(tmp_path: Path) -> None:
    path = tmp_path / "order.csv"
    lines = SHIPPED_STYLE.split("\r\n")
    lines[0] = "@file,2,DDJ-TEST"  # line 1
    lines[7] = "PAD1_HotCue,x,Pad,9000,7,9,11,13,,,,,,Priority,"  # line 8
    lines[4] = "JumpToTrackStart,Cue+Shift,Buton,9048,0,1,2,3,,,,,,,"  # line 5
    path.write_text("\r\n".join(lines), encoding="utf-8")
    numbers = [int(p[len(str(path)) + 1:].split(":")[0]) for p in check_csv(path)]
    assert numbers == [1, 5, 8]
