"""djtui's settings: one typed config, read once from the user's config dir (TOML).

Every field says what it does, so a DJ knows what changing it changes. Types, ranges and
closed choices are checked by pydantic when the file is read and whenever a value is
set; every bad value is one :class:`DjtuiError` naming ``file: [section] key``, what is
wrong and what to do, never a traceback.

Saving never loses what the DJ wrote: :func:`save_config` writes the known settings into
the file as it is on disk, keeping sections and keys djtui does not know (a newer
version's, a typo the DJ will fix), and refuses to overwrite a file it cannot read.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError, model_validator

from djtui.core import paths
from djtui.core.errors import DjtuiError
from djtui.core.fileio import write_text_atomic


class Trigger(StrEnum):
    """What opens the microphone."""

    ALWAYS = "always"
    PUSH_TO_TALK = "push_to_talk"
    MIDI_HOLD = "midi_hold"


class VadEngine(StrEnum):
    SILERO = "silero"
    ENERGY = "energy"


class AsrEngineName(StrEnum):
    AUTO = "auto"
    WAV2VEC2 = "wav2vec2"
    WHISPER = "whisper"


class MidiApi(StrEnum):
    ALSA = "alsa"
    JACK = "jack"
    COREMIDI = "coremidi"
    WINMM = "winmm"


class _Section(BaseModel):
    # Strict: TOML has types, so "0.5" for a number or 1 for a switch is a mistake to
    # report, not to guess at. Closed choices are enums, given as their text.
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True, use_attribute_docstrings=True)


class AudioConfig(_Section):
    input_device: Annotated[str | None, BeforeValidator(lambda v: str(v) if type(v) is int else v)] = None
    """Input device name (substring) or index; empty = the system default."""
    trigger: Annotated[Trigger, Strict(False)] = Trigger.ALWAYS
    """'always' (VAD decides), 'push_to_talk' (a key toggles listening) or 'midi_hold'
    (listen while a footswitch/controller note is held)."""
    ptt_midi_port: str | None = None
    """MIDI input port of the footswitch for 'midi_hold'."""
    ptt_midi_note: int = Field(64, ge=0, le=127)
    """Note (or CC) number of the footswitch for 'midi_hold'."""


class VadConfig(_Section):
    engine: Annotated[VadEngine, Strict(False)] = VadEngine.SILERO
    """'silero' (neural, robust to music) or 'energy' (a level gate, fallback)."""
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    """Speech probability above which a frame counts as speech."""
    hangover_ms: int = Field(300, ge=32, le=3000)
    """Silence after speech before the utterance is closed. Shorter reacts faster but
    can cut a command at a pause."""
    min_speech_ms: int = Field(200, ge=0, le=2000)
    """Shorter bursts (a cough, a kick drum) are ignored."""
    max_speech_ms: int = Field(4000, ge=500, le=30000)
    """Utterances are cut here: a command is short, a sung chorus is not a command."""
    energy_threshold_dbfs: float = Field(-35.0, ge=-120.0, le=0.0)
    """Level for the energy gate."""
    early_finalize: bool = True
    """Fire a complete, clear command at the first silence instead of after the
    hang-over, when no longer command could still be coming (README, "Speed")."""
    glimpse_ms: int = Field(320, ge=64, le=2000)
    """While the DJ speaks, how often the speech so far is read, to tell a stable
    command from one still changing. Shorter costs more CPU."""
    stable_updates: int = Field(2, ge=1, le=5)
    """How many readings in a row (glimpses and the final one) must agree before a
    command fires early. 1 trusts the final reading alone."""

    @model_validator(mode="after")
    def _speech_bounds(self) -> VadConfig:
        if self.min_speech_ms >= self.max_speech_ms:
            raise ValueError(f"min_speech_ms ({self.min_speech_ms}) must be below max_speech_ms ({self.max_speech_ms})")
        return self


class AsrConfig(_Section):
    engine: Annotated[AsrEngineName, Strict(False)] = AsrEngineName.AUTO
    """'auto': the model ``model`` names if it is a folder djtui can run (a fine-tuned
    Whisper or wav2vec2), else the context's own model once it is built (``djtui train
    --context-model``, or the TUI in the background), else the bundled Whisper tiny.en,
    which works offline. 'wav2vec2' or 'whisper' pick the engine outright."""
    model: str | None = None
    """A folder ``djtui train`` wrote (Whisper, CTranslate2; or wav2vec2), a wav2vec2 hub
    id, or 'base' (Whisper base, from its packages: bigger, slower, not more accurate on
    DJ commands, see the README); empty = the context model if built, else the bundled
    tiny.en."""
    quantize: bool = True
    """int8 dynamic quantization of wav2vec2's linear layers on CPU: ~2x faster."""
    threads: int = Field(0, ge=0, le=256)
    """CPU threads for inference; 0 = all cores."""


class ResolverConfig(_Section):
    context: str | None = None
    """Context file (YAML); empty = the bundled DJ context."""
    embedding_model: str | None = None
    """Any sentence-transformers id or folder; empty = bundled all-MiniLM-L6-v2."""
    semantic_weight: float = Field(0.35, ge=0.0, le=1.0)
    """How much sentence-embedding similarity counts against the phonetic match (0..1)."""


class SafetyConfig(_Section):
    armed_at_start: bool = False
    """Start disarmed: nothing reaches Rekordbox until the DJ arms djtui."""
    min_confidence: float = Field(0.8, ge=0.0, le=1.0)
    """djtui's own commands (arm, disarm, confirm, cancel) below this calibrated confidence
    (the probability the reading is right) are rejected; the commands of the context
    have a threshold per safety class, below."""
    min_confidence_safe: float = Field(0.8, ge=0.0, le=1.0)
    """The same for 'safe' commands (browse, effect select, loops): what a wrong one costs
    is a press undone by another."""
    min_confidence_guarded: float = Field(0.8, ge=0.0, le=1.0)
    """The same for 'guarded' commands (sync, hot cue, EQ kill): they change what the crowd
    hears; on a playing deck they wait for 'confirm' too."""
    min_confidence_destructive: float = Field(0.8, ge=0.0, le=1.0)
    """The same for 'destructive' commands (pause, cue, load): they can stop the music."""
    min_margin: float = Field(0.08, ge=0.0, le=1.0)
    """Rejected as ambiguous when the runner-up is closer than this to the best."""
    cooldown_ms: int = Field(1500, ge=0, le=60000)
    """The same command again within this time is dropped (echo, double trigger)."""
    max_commands_per_minute: int = Field(30, ge=1, le=100000)
    """Rate limit across all commands."""
    confirm_timeout_s: float = Field(3.0, gt=0.0, le=60.0)
    """Guarded/destructive commands on a playing deck wait this long for 'confirm'."""
    grammar_floor: float = Field(0.3, ge=0.0, le=1.0)
    """Below this the best reading is not taken as a command at all (chatter, lyrics):
    rejected as out of grammar rather than as a low-confidence command."""


class MidiConfig(_Section):
    output_port: str = Field("djtui", min_length=1)
    """Virtual port djtui opens (macOS/Linux), or an existing port to use (Windows:
    a loopMIDI port's name). Also the device name Rekordbox knows djtui by."""
    input_port: str | None = None
    """Port on which Rekordbox's feedback (deck state) arrives; empty = the same name as
    output_port, which is what Rekordbox needs: it reports to the output port named like
    the device the mapping was imported for."""
    virtual: bool = True
    """Open virtual ports. Off: connect to existing ports of those names."""
    api: Annotated[MidiApi | None, Strict(False)] = None
    """MIDI system: 'alsa', 'jack', 'coremidi' or 'winmm'; empty = python-rtmidi's
    default. The environment variable DJTUI_MIDI_API overrides it."""


class RekordboxConfig(_Section):
    beat_loop_pads: str = "1/4 1/2 1 2 4 8 16 32"
    """Loop length in beats on beat-loop pads 1-8 as Rekordbox shows them in BEAT LOOP
    pad mode (its PAD5_BeatLoop ... PAD12_BeatLoop), space-separated, '-' for a pad djtui
    leaves alone. "loop N" presses the pad holding N; 4 beats uses 4BeatLoop (no pad)."""
    beat_jump_pads: str = "-1 +1 -2 +2 -8 +8 -32 +32"
    """Jump on beat-jump pads 1-8 as Rekordbox shows them in BEAT JUMP pad mode
    (PAD1_BeatJump ... PAD8_BeatJump): -N beats back, +N forward, '-' for none.
    "jump forward N" presses the pad holding +N; 4 and 16 use Jump4/Jump16 (no pad)."""


class UiConfig(_Section):
    theme: str = Field("booth", min_length=1)
    """'booth' (dark), 'stage' (high contrast), 'mono' (plain terminals) or a theme
    file (.toml)."""


class Config(_Section):
    audio: AudioConfig = Field(default_factory=AudioConfig)
    vad: VadConfig = Field(default_factory=VadConfig)
    asr: AsrConfig = Field(default_factory=AsrConfig)
    resolver: ResolverConfig = Field(default_factory=ResolverConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    midi: MidiConfig = Field(default_factory=MidiConfig)
    rekordbox: RekordboxConfig = Field(default_factory=RekordboxConfig)
    ui: UiConfig = Field(default_factory=UiConfig)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain values for TOML: ``None`` fields are left out (TOML has no null)."""
        return self.model_dump(mode="json", exclude_none=True)

    def updated(self, changes: dict[str, dict[str, Any]], where: str = "the command line") -> Config:
        """A new config with ``changes`` (``{"asr": {"engine": "whisper"}}``) applied and
        checked; this one is left as it is."""
        data = self.model_dump()
        for section, values in changes.items():
            data.setdefault(section, {}).update(values)
        return config_from_dict(data, where)


def config_from_dict(data: dict[str, Any], where: str | Path = "<config>") -> Config:
    """A checked :class:`Config` from plain data (a parsed TOML file)."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise _error(exc, where) from None


def _error(exc: ValidationError, where: str | Path) -> DjtuiError:
    """Every problem pydantic found, one line each: ``file: [section] key = value: what``."""
    lines = []
    for problem in exc.errors():
        loc = [str(part) for part in problem["loc"]]
        section, key = (loc + ["", ""])[:2]
        if problem["type"] == "extra_forbidden":
            what = f"unknown setting [{section}] {key}" if key else f"unknown section [{section}]"
            lines.append(f"{where}: {what}")
            continue
        name = f"[{section}] {key}" if key else f"[{section}]"
        value = problem.get("input")
        shown = f" = {value!r}" if key and not isinstance(value, dict) else ""
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {name}{shown}: {message}")
    return DjtuiError("\n".join(lines), "correct the value, or delete the line to use the default "
                                        "(README, 'Configuration', says what each setting does)")


def load_config(path: str | Path | None = None) -> Config:
    """Read the config file. The user's own file may be missing (then: the defaults);
    a file named explicitly must exist."""
    explicit = path is not None
    path = Path(path).expanduser() if explicit else paths.config_file()
    if not path.exists():
        if explicit:
            raise DjtuiError(f"{path}: no such config file", "check the path, or leave --config out to use "
                                                             f"{paths.config_file()}")
        return Config()
    return config_from_dict(_read_table(path), path)


def _read_table(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except IsADirectoryError:
        raise DjtuiError(f"{path}: is a folder, not a config file", "give the path of a .toml file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DjtuiError(f"{path}: cannot read the config file ({exc})", "check its permissions") from None
    except tomllib.TOMLDecodeError as exc:
        raise DjtuiError(f"{path}: not valid TOML ({exc})", "fix the file or delete it to start from the defaults") from None


def save_config(config: Config, path: str | Path | None = None) -> Path:
    """Write ``config`` into ``path`` (default: the user's config file), atomically.

    Settings djtui knows are written (a default left empty removes its line); anything
    else already in the file is kept as it was. A file that is not valid TOML is never
    overwritten: that is a :class:`DjtuiError`, as is a folder djtui may not write to.
    """
    import tomli_w

    path = Path(path).expanduser() if path else paths.config_file()
    document: dict[str, Any] = _read_table(path) if path.exists() else {}
    for section, values in config.model_dump(mode="json").items():
        table = document.get(section)
        if not isinstance(table, dict):
            table = document[section] = {}
        for key, value in values.items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
    try:
        return write_text_atomic(path, tomli_w.dumps(document))
    except OSError as exc:
        raise DjtuiError(f"{path}: cannot save the settings ({exc.strerror or exc})",
                         "check that the folder exists and is writable, or use --config with another file") from None
