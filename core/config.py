"""djtui's settings: one typed config, read once from the user's config dir (TOML).

Every field says what it does, so a DJ knows what changing it changes. Unknown keys and
wrong types are reported as one clear :class:`DjtuiError`, never a traceback.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from djtui.core import paths
from djtui.core.errors import DjtuiError
from djtui.core.fileio import write_text_atomic


@dataclass
class AudioConfig:
    input_device: str | None = None
    """Input device name (substring) or index; empty = the system default."""
    sample_rate: int = 16000
    """Rate the models run at; devices at other rates are resampled with soxr."""
    block_ms: int = 32
    """Audio block size. 32 ms = 512 samples, what silero-vad takes per step."""
    trigger: str = "always"
    """'always' (VAD decides), 'push_to_talk' (a key toggles listening) or 'midi_hold'
    (listen while a footswitch/controller note is held)."""
    ptt_midi_port: str | None = None
    """MIDI input port of the footswitch for 'midi_hold'."""
    ptt_midi_note: int = 64
    """Note (or CC) number of the footswitch for 'midi_hold'."""


@dataclass
class VadConfig:
    engine: str = "silero"
    """'silero' (neural, robust to music) or 'energy' (a level gate, fallback)."""
    threshold: float = 0.5
    """Speech probability above which a frame counts as speech."""
    hangover_ms: int = 300
    """Silence after speech before the utterance is closed. Shorter reacts faster but
    can cut a command at a pause."""
    min_speech_ms: int = 200
    """Shorter bursts (a cough, a kick drum) are ignored."""
    max_speech_ms: int = 4000
    """Utterances are cut here: a command is short, a sung chorus is not a command."""
    energy_threshold_dbfs: float = -35.0
    """Level for the energy gate."""


@dataclass
class AsrConfig:
    engine: str = "auto"
    """'auto' (a fine-tuned wav2vec2 if one is set, else Whisper tiny.en, which works
    offline), 'wav2vec2' or 'whisper'."""
    model: str | None = None
    """wav2vec2: a hub id or a local folder (a fine-tuned model). Whisper: a CTranslate2
    folder; empty = the bundled tiny.en."""
    quantize: bool = True
    """int8 dynamic quantization of wav2vec2's linear layers on CPU: ~2x faster."""
    threads: int = 0
    """CPU threads for inference; 0 = all cores."""


@dataclass
class ResolverConfig:
    context: str | None = None
    """Context file (YAML); empty = the bundled DJ context."""
    embedding_model: str | None = None
    """Any sentence-transformers id or folder; empty = bundled all-MiniLM-L6-v2."""
    semantic_weight: float = 0.35
    """How much sentence-embedding similarity counts against the phonetic match (0..1)."""


@dataclass
class SafetyConfig:
    armed_at_start: bool = False
    """Start disarmed: nothing reaches Rekordbox until the DJ arms djtui."""
    min_confidence: float = 0.6
    """Commands below this calibrated confidence are rejected."""
    min_margin: float = 0.08
    """Rejected as ambiguous when the runner-up is closer than this to the best."""
    cooldown_ms: int = 1500
    """The same command again within this time is dropped (echo, double trigger)."""
    max_commands_per_minute: int = 30
    """Rate limit across all commands."""
    confirm_timeout_s: float = 3.0
    """Guarded/destructive commands on a playing deck wait this long for 'confirm'."""
    grammar_floor: float = 0.3
    """Below this the best reading is not taken as a command at all (chatter, lyrics):
    rejected as out of grammar rather than as a low-confidence command."""


@dataclass
class MidiConfig:
    output_port: str = "djtui"
    """Virtual port djtui opens (macOS/Linux), or an existing port to use (Windows:
    a loopMIDI port's name). Also the device name Rekordbox knows djtui by."""
    input_port: str | None = None
    """Port on which Rekordbox's feedback (deck state) arrives; empty = the same name as
    output_port, which is what Rekordbox needs: it reports to the output port named like
    the device the mapping was imported for."""
    virtual: bool = True
    """Open virtual ports. Off: connect to existing ports of those names."""
    api: str | None = None
    """MIDI system: 'alsa', 'jack', 'coremidi' or 'winmm'; empty = python-rtmidi's
    default. The environment variable DJTUI_MIDI_API overrides it."""


@dataclass
class RekordboxConfig:
    beat_loop_pads: str = "1/4 1/2 1 2 4 8 16 32"
    """Loop length in beats on beat-loop pads 1-8 as Rekordbox shows them in BEAT LOOP
    pad mode (its PAD5_BeatLoop ... PAD12_BeatLoop), space-separated, '-' for a pad djtui
    leaves alone. "loop N" presses the pad holding N; 4 beats uses 4BeatLoop (no pad)."""
    beat_jump_pads: str = "-1 +1 -2 +2 -8 +8 -32 +32"
    """Jump on beat-jump pads 1-8 as Rekordbox shows them in BEAT JUMP pad mode
    (PAD1_BeatJump ... PAD8_BeatJump): -N beats back, +N forward, '-' for none.
    "jump forward N" presses the pad holding +N; 4 and 16 use Jump4/Jump16 (no pad)."""


@dataclass
class UiConfig:
    theme: str = "booth"
    """'booth' (dark), 'stage' (high contrast) or 'mono' (plain terminals)."""


@dataclass
class Config:
    audio: AudioConfig = field(default_factory=AudioConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    asr: AsrConfig = field(default_factory=AsrConfig)
    resolver: ResolverConfig = field(default_factory=ResolverConfig)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    midi: MidiConfig = field(default_factory=MidiConfig)
    rekordbox: RekordboxConfig = field(default_factory=RekordboxConfig)
    ui: UiConfig = field(default_factory=UiConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for TOML: ``None`` fields are left out (TOML has no null)."""
        return {
            section.name: {k: v for k, v in dataclasses.asdict(getattr(self, section.name)).items() if v is not None}
            for section in fields(self)
        }


def _coerce(section: str, key: str, value: Any, annotation: Any, where: Path) -> Any:
    kinds = {"int": int, "float": float, "bool": bool, "str": str}
    allowed = [kinds[name] for name in kinds if name in str(annotation)]
    if isinstance(value, bool) and bool not in allowed:
        allowed_ok = False
    elif float in allowed and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    else:
        allowed_ok = any(isinstance(value, t) for t in allowed)
    if not allowed_ok:
        raise DjtuiError(
            f"{where}: [{section}] {key} = {value!r} has the wrong type (expected {annotation})",
            "correct the value or delete the line to use the default",
        )
    return value


def config_from_dict(data: dict[str, Any], where: Path = Path("<config>")) -> Config:
    config = Config()
    for section_name, values in data.items():
        if section_name not in {f.name for f in fields(Config)}:
            raise DjtuiError(f"{where}: unknown section [{section_name}]", "remove it or check the spelling")
        section = getattr(config, section_name)
        hints = get_type_hints(type(section))
        if not isinstance(values, dict):
            raise DjtuiError(f"{where}: [{section_name}] must be a table", "see README, 'Configuration'")
        for key, value in values.items():
            if key not in hints:
                raise DjtuiError(f"{where}: unknown setting [{section_name}] {key}", "remove it or check the spelling")
            setattr(section, key, _coerce(section_name, key, value, hints[key], where))
    return config


def load_config(path: str | Path | None = None) -> Config:
    """Read the config file; a missing file means the defaults."""
    path = Path(path) if path else paths.config_file()
    if not path.exists():
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DjtuiError(f"{path}: cannot read the config file ({exc})", "check its permissions") from exc
    except tomllib.TOMLDecodeError as exc:
        raise DjtuiError(f"{path}: not valid TOML ({exc})", "fix the file or delete it to start from the defaults") from exc
    return config_from_dict(data, path)


def save_config(config: Config, path: str | Path | None = None) -> Path:
    import tomli_w

    path = Path(path) if path else paths.config_file()
    return write_text_atomic(path, tomli_w.dumps(config.to_dict()))
