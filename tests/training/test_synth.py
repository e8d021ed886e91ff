"""Synthetic speech: the recording manifest format, voices as speakers, held-out voices."""

from __future__ import annotations

import pytest

from djtui.cli import main
from djtui.core.errors import DjtuiError
from djtui.core.audio import read_audio
from djtui.training.manifest import read_manifest
from djtui.training.synth import Voice, default_voices, split_voices, synthesize


def test_synth_writes_the_manifest_format(synthetic_set, small_context):
    takes = read_manifest(synthetic_set)
    assert len(takes) == 8 * len(small_context.intents)
    assert {t.intent for t in takes} == set(small_context.intents)
    assert {t.speaker for t in takes} <= {"espeak:en-us", "espeak:en-gb+f2"}
    assert all(t.qc["synthetic"] and t.qc["passed"] for t in takes)
    for take in takes[:5]:
        audio = read_audio(synthetic_set.parent / take.path)
        assert len(audio) / 16000 == pytest.approx(take.duration, abs=1e-3) and take.duration > 0.5
        assert take.text == take.text.lower().strip() and take.slots["deck"] in ("1", "2")


def test_synth_is_deterministic_and_resumes(tmp_path, small_context):
    voices = [Voice("espeak", "en-us")]
    first = synthesize(small_context, tmp_path / "a", per_intent=2, voices=voices, seed=1)
    lines = first.read_text().splitlines()
    progress = []
    again = synthesize(small_context, tmp_path / "a", per_intent=2, voices=voices, seed=1, on_progress=progress.append)
    assert again.read_text().splitlines() == lines  # nothing redone
    assert [p.take for p in progress] == [None] * len(lines)
    other = synthesize(small_context, tmp_path / "b", per_intent=2, voices=voices, seed=1)
    assert [r.split('"created_at"')[0] for r in other.read_text().splitlines()] == [
        r.split('"created_at"')[0] for r in lines]


def test_voice_ids_round_trip_and_bad_ones_are_clear():
    for voice in default_voices():
        assert Voice.parse(voice.id) == voice
    with pytest.raises(DjtuiError, match="unknown voice"):
        Voice.parse("festival:kal")
    with pytest.raises(DjtuiError, match="unknown TTS engine"):
        default_voices(["festival"])


def test_held_out_voices_are_disjoint():
    train, test = split_voices(default_voices(), held_out=0.2, seed=0)
    assert train and test and not {v.id for v in train} & {v.id for v in test}
    assert len(test) == round(0.2 * len(default_voices()))


def test_cli_synth_with_chosen_voices(tmp_path, small_context, capsys):
    code = main(["synth", "--context", str(small_context.source), "--out", str(tmp_path), "--per-intent", "1",
                 "--voices", "espeak:en-gb-scotland+m3"])
    assert code == 0
    assert {t.speaker for t in read_manifest(tmp_path / "manifest.jsonl")} == {"espeak:en-gb-scotland+m3"}
    assert main(["synth", "--list-voices", "--engines", "espeak", "--exclude-voices", "espeak:en-us"]) == 0
    listed = capsys.readouterr().out.split()
    assert "espeak:en-us+m3" in listed and "espeak:en-us" not in listed
    assert main(["synth", "--context", str(small_context.source)]) == 2


def _wavs(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.rglob("*.wav")}


@pytest.mark.parametrize("damage", ["missing", "corrupt", "truncated"])
def test_cli_synth_into_a_folder_with_a_lost_or_broken_manifest_keeps_every_wav(tmp_path, small_context, capsys, damage):
    args = ["synth", "--context", str(small_context.source), "--out", str(tmp_path), "--per-intent", "2",
            "--voices", "espeak:en-us"]
    assert main(args) == 0
    wavs = _wavs(tmp_path)
    manifest = tmp_path / "manifest.jsonl"
    lines = manifest.read_text().splitlines()
    if damage == "missing":
        manifest.unlink()
    elif damage == "corrupt":
        manifest.write_bytes(b"\x89\x00garbage\xff\n" * 3)
    else:  # cut in the middle of the second line
        manifest.write_text(lines[0] + "\n" + lines[1][:40])
    capsys.readouterr()

    assert main(args) == 0
    out = capsys.readouterr().out
    assert _wavs(tmp_path) == wavs  # the case: 78 of 80 WAVs were deleted here
    assert "no file deleted" in out and "re-described" in out
    takes = read_manifest(manifest)
    assert sorted(t.path.split("/")[1] for t in takes) == sorted(wavs)
    assert [line.split('"duration"')[0] for line in sorted(manifest.read_text().splitlines())] == sorted(
        line.split('"duration"')[0] for line in lines)


def test_synth_with_another_script_sets_earlier_clips_aside(tmp_path, small_context):
    voices = [Voice("espeak", "en-us")]
    synthesize(small_context, tmp_path, per_intent=1, voices=voices, seed=1)
    wavs = _wavs(tmp_path)
    (tmp_path / "manifest.jsonl").unlink()
    reports = []
    synthesize(small_context, tmp_path, per_intent=1, voices=voices, seed=2, on_reconciled=reports.append)
    [report] = reports
    aside = {p.name for p in report.set_aside}
    assert aside and all((tmp_path / "set-aside" / name).read_bytes() == wavs[name] for name in aside)
    assert set(wavs) - aside == {p.split("/")[1] for p in report.redescribed}


def test_a_recording_session_spoken_by_a_voice(tmp_path, small_context):
    """The Record screen's script (one phrasing of each command, three takes), every take
    at its own rate and pitch."""
    from djtui.training.recording import prompts_for

    manifest = main(["synth", "--context", str(small_context.source), "--out", str(tmp_path), "--takes", "3",
                     "--voices", "espeak:en-gb-scotland+m3", "--seed", "2"])
    assert manifest == 0
    takes = read_manifest(tmp_path / "manifest.jsonl")
    script = prompts_for(small_context, takes=3, phrasings=1, seed=2)
    assert sorted((t.text, t.take) for t in takes) == sorted((p.text, p.take) for p in script)
    assert len({t.intent for t in takes}) == len(small_context.intents) and len(takes) == 3 * len(small_context.intents)
    lengths = {t.text: set() for t in takes}
    for t in takes:
        lengths[t.text].add(len(read_audio(tmp_path / t.path)))
    assert all(len(sizes) == 3 for sizes in lengths.values())  # three different takes, not one copied
