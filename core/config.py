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

import difflib
import tomllib
import types
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

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


class ContextModelBuild(StrEnum):
    """Whether the TUI builds the context model by itself."""

    AUTO = "auto"
    OFF = "off"


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
    reference_channel: int | None = Field(None, ge=1, le=64)
    """The input of the microphone's own interface that carries the mix (the mixer's REC
    or booth out plugged into input 2, say): djtui removes the music from the
    microphone before listening. One clock: the setup to use. With reference_device:
    the input of that device (default 1). Empty: no reference, the microphone as it is."""
    reference_device: Annotated[str | None, BeforeValidator(lambda v: str(v) if type(v) is int else v)] = None
    """Another input device that carries the mix (a loopback: BlackHole on macOS,
    VB-Cable or Stereo Mix on Windows), name (substring) or index. Two clocks: less of
    the music is removed than with reference_channel. Empty: none."""

    @model_validator(mode="after")
    def _reference_is_not_the_microphone(self) -> AudioConfig:
        if self.reference_channel == 1 and not self.reference_device:
            raise ValueError("reference_channel 1 is the microphone itself: the mix goes into another input "
                             "(2, say), or set reference_device too")
        return self

    @property
    def has_reference(self) -> bool:
        """Whether a reference is set, so the echo canceller runs."""
        return bool(self.reference_channel or self.reference_device)


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
    """CPU threads for inference; 0 = every core for CTranslate2 and one for the grammar
    decoder (torch) and numpy, whose idle threads spin on a shared machine."""


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
    """Commands below this calibrated confidence (the probability the reading is right)
    are rejected: djtui's own (arm, disarm, confirm, cancel), and every command of the
    context whose safety class has no threshold of its own below."""
    min_confidence_safe: float | None = Field(None, ge=0.0, le=1.0)
    """The threshold for 'safe' commands (browse, effect select, loops: a wrong one is a
    press undone by another); empty: ``min_confidence``."""
    min_confidence_guarded: float | None = Field(None, ge=0.0, le=1.0)
    """The same for 'guarded' commands (sync, hot cue, EQ kill): they change what the crowd
    hears; on a playing deck they wait for 'confirm' too. Empty: ``min_confidence``."""
    min_confidence_destructive: float | None = Field(None, ge=0.0, le=1.0)
    """The same for 'destructive' commands (pause, cue, load): they can stop the music.
    Empty: ``min_confidence``."""

    def min_confidence_for(self, safety_class: str) -> float:
        """The threshold a command of ``safety_class`` must reach (``"control"``: djtui's
        own commands): its class's own, else ``min_confidence``."""
        own = getattr(self, f"min_confidence_{safety_class}", None) if safety_class != "control" else None
        return self.min_confidence if own is None else float(own)

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


class TrainingConfig(_Section):
    context_model: Annotated[ContextModelBuild, Strict(False)] = ContextModelBuild.AUTO
    """'auto': the TUI builds the context model in the background when there is none for
    the context (its own process at the lowest priority, one thread, paused while you
    play, going on where it stopped at the next start). 'off': never by itself; build it
    by hand with `djtui train --context-model`."""


class ControlsConfig(_Section):
    """Knobs and faders moved by voice: the tempo they count beats in, how fast the
    safety gate lets each kind of control move on a playing deck, and the ramps' pace.
    Travel is the control's whole range (0 to 1); each control names its kind (``limit:``
    in the context file)."""

    bpm: float | None = Field(None, ge=20.0, le=300.0)
    """The tempo beats and bars are counted in ("fade in over eight bars"); empty = none:
    durations in beats or bars are refused and only seconds work, until one is tapped
    (Live screen, t)."""
    eq_per_beat: float = Field(0.125, gt=0.0, le=1.0)
    """On a playing deck an EQ band or the trim moves at most this share of its travel
    per beat (0.125: from its centre to the bottom in four beats)."""
    fader_per_beat: float = Field(0.25, gt=0.0, le=1.0)
    """On a playing deck a channel fader, and the crossfader while a deck plays, move at
    most this share of their travel per beat (0.25: bottom to top in four beats), unless
    the DJ said "cut"."""
    tempo_per_beat: float = Field(0.025, gt=0.0, le=1.0)
    """On a playing deck the tempo slider moves at most this share of its travel per beat
    (0.025: 0.5 % of tempo a beat with a ±10 % range)."""
    effect_per_beat: float = Field(0.25, gt=0.0, le=1.0)
    """On a playing deck the colour FX filter, and the beat FX depth while a deck plays,
    move at most this share of their travel per beat."""
    beat_s_without_tempo: float = Field(0.5, ge=0.1, le=3.0)
    """Without a tempo the per-beat limits count a beat as this many seconds (0.5: 120
    BPM; a slower tempo than the music's only makes the limit stricter)."""
    step_ms: int = Field(10, ge=2, le=50)
    """A ramp sends a new value this often. 10 ms is about one audio buffer at common
    settings (a value sent faster is not heard sooner), and slower than Pioneer's own
    hardware feeds Rekordbox; each 14-bit step is two messages."""

    def per_beat(self, kind: str) -> float:
        """The limit of a control's kind (``eq``, ``fader``, ``tempo``, ``effect``)."""
        return float(getattr(self, f"{kind}_per_beat"))


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
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    controls: ControlsConfig = Field(default_factory=ControlsConfig)
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


COMMAND_LINE = "--set"
"""The ``where`` of settings given as ``--set SECTION.KEY=VALUE``: their problems are
named as typed (``vad.hangover_ms``), with an example to copy instead of a line to fix."""


def _error(exc: ValidationError, where: str | Path) -> DjtuiError:
    """Every problem pydantic found, one line each: ``file: [section] key = value: what``
    (for ``--set``: ``--set section.key='value': what``), with what the setting expects
    and, for a name djtui does not know, the closest one it does."""
    lines, examples = [], []
    typed = where == COMMAND_LINE
    for problem in exc.errors():
        loc = [str(part) for part in problem["loc"]]
        section, key = (loc + ["", ""])[:2]
        if problem["type"] == "extra_forbidden":
            if key:
                what = f"unknown setting [{section}] {key}" + _did_you_mean(key, _fields(section))
                if (close := _closest(key, _fields(section))) is not None:
                    examples.append(_example(section, close))
            else:
                what = f"unknown section [{section}]" + _did_you_mean(section, list(Config.model_fields))
            named = f" {section}.{key}" if key else f" {section}"
            lines.append(f"{where}{named if typed else ''}: {what}")
            continue
        value = problem.get("input")
        message = problem["msg"].removeprefix("Value error, ")
        if key in _fields(section):
            if problem["type"] != "enum":  # pydantic already lists the choices
                message += f" (expected {expected(section, key)})"
            examples.append(_example(section, key))
        if typed and key:
            lines.append(f"{where} {section}.{key}={value!r}: {message}")
            continue
        name = f"[{section}] {key}" if key else f"[{section}]"
        shown = f" = {value!r}" if key and not isinstance(value, dict) else ""
        lines.append(f"{where}: {name}{shown}: {message}")
    if typed:
        hint = (f"e.g. {', '.join(dict.fromkeys(examples))}" if examples else "--set SECTION.KEY=VALUE") + \
            " (README, 'Configuration', lists every setting)"
    else:
        hint = "correct the value, or delete the line to use the default (README, 'Configuration', says what each " \
               "setting does)"
    return DjtuiError("\n".join(lines), hint)


def _fields(section: str) -> list[str]:
    model = Config.model_fields.get(section)
    return list(model.annotation.model_fields) if model is not None else []  # type: ignore[union-attr]


def _closest(name: str, known: list[str]) -> str | None:
    matches = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if not matches:  # a prefix of a longer name: vad.hangover for hangover_ms
        matches = [k for k in known if k.startswith(name) or name.startswith(k)][:1]
    return matches[0] if matches else None


def _did_you_mean(name: str, known: list[str]) -> str:
    close = _closest(name, known)
    return f"; did you mean {close}?" if close else ""


def _example(section: str, key: str) -> str:
    default = Config().model_dump(mode="json")[section][key]
    value = "VALUE" if default is None else toml_value(default)
    return f"--set {section}.{key}={value}"


def toml_value(value: Any) -> str:
    """``value`` as it is written after ``=`` in TOML (and in ``--set``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) and " " in value else str(value)


def kind_of(section: str, key: str) -> type | None:
    """The type ``[section] key`` holds (``int``, ``float``, ``bool``, ``str``, an enum),
    ``None`` optional or not; ``None`` for a setting djtui does not know."""
    model = Config.model_fields.get(section)
    info = model.annotation.model_fields.get(key) if model is not None else None  # type: ignore[union-attr]
    if info is None:
        return None
    union = get_origin(info.annotation) in (Union, types.UnionType)
    kinds = [t for t in (get_args(info.annotation) if union else (info.annotation,)) if t is not type(None)]
    return kinds[0] if kinds else None


def expected(section: str, key: str) -> str:
    """What ``[section] key`` takes, in words: "a whole number from 32 to 3000",
    "one of always, push_to_talk, midi_hold", "true or false", "text"."""
    kind = kind_of(section, key)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return "one of " + ", ".join(str(member.value) for member in kind)
    if kind is bool:
        return "true or false"
    if kind not in (int, float):
        return "text"
    info = Config.model_fields[section].annotation.model_fields[key]  # type: ignore[union-attr]
    bounds = {name: getattr(m, name) for m in info.metadata for name in ("ge", "gt", "le", "lt") if hasattr(m, name)}
    words = "a whole number" if kind is int else "a number"
    low, high = bounds.get("ge", bounds.get("gt")), bounds.get("le", bounds.get("lt"))
    if low is None or high is None:
        return words
    excluded = [f"{v:g}" for name, v in bounds.items() if name in ("gt", "lt")]
    return words + f" from {low:g} to {high:g}" + (f", not {' or '.join(excluded)}" if excluded else "")


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
