"""The config: defaults, round trip, one clear error per broken value, and saving that
never loses what the DJ wrote."""

import pytest

from djtui.core import paths
from djtui.core.config import Config, Trigger, load_config, save_config
from djtui.core.errors import DjtuiError


def test_missing_file_means_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("DJTUI_HOME", str(tmp_path))
    config = load_config()
    assert config == Config()
    assert config.safety.armed_at_start is False  # nothing reaches Rekordbox until armed


def test_a_config_file_named_explicitly_must_exist(tmp_path):
    with pytest.raises(DjtuiError, match="no such config file") as info:
        load_config(tmp_path / "none.toml")
    assert "--config" in info.value.hint


def test_save_then_load_round_trips_into_the_user_config_dir():
    config = Config().updated({"safety": {"min_confidence": 0.75}, "audio": {"input_device": "USB Audio"},
                               "ui": {"theme": "stage"}})
    path = save_config(config)
    assert path == paths.config_file() and path.exists()
    assert load_config() == config


def test_ints_are_accepted_where_floats_are_expected(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[safety]\nmin_confidence = 1\n[audio]\ninput_device = 3\n")
    config = load_config(path)
    assert config.safety.min_confidence == 1.0 and config.audio.input_device == "3"  # a device index


@pytest.mark.parametrize("text, message", [
    ("[safety\n", "not valid TOML"),
    ("[sefety]\nx = 1\n", "unknown section [sefety]"),
    ("[safety]\nmin_confidense = 0.5\n", "unknown setting [safety] min_confidense"),
    ("[safety]\nmin_confidence = 'high'\n", "[safety] min_confidence = 'high': Input should be a valid number"),
    ("[safety]\nmin_confidence = '0.7'\n", "[safety] min_confidence = '0.7': Input should be a valid number"),
    ("[vad]\nhangover_ms = true\n", "[vad] hangover_ms = True: Input should be a valid integer"),
    ("[safety]\nmin_confidence = 1.5\n", "[safety] min_confidence = 1.5: Input should be less than or equal to 1"),
    ("[vad]\nthreshold = 0\n", "[vad] threshold = 0: Input should be greater than 0"),
    ("[audio]\ntrigger = 'push-to-talk'\n", "[audio] trigger = 'push-to-talk': Input should be 'always', 'push_to_talk' or 'midi_hold'"),
    ("[audio]\nsample_rate = 0\n", "unknown setting [audio] sample_rate"),
    ("[vad]\nmin_speech_ms = 900\nmax_speech_ms = 800\n", "min_speech_ms (900) must be below max_speech_ms (800)"),
    ("[midi]\napi = 'directx'\n", "[midi] api = 'directx': Input should be 'alsa', 'jack', 'coremidi' or 'winmm'"),
    ("[audio]\nreference_channel = 1\n", "reference_channel 1 is the microphone itself"),
    ("[audio]\nreference_channel = 0\n", "[audio] reference_channel = 0: Input should be greater than or equal to 1"),
])
def test_a_broken_config_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(DjtuiError) as info:
        load_config(path)
    assert message in str(info.value) and str(path) in str(info.value) and info.value.hint


def test_every_bad_value_is_reported_at_once(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[safety]\nmin_confidence = 2.0\nmin_margin = -1.0\n[audio]\ntrigger = 'sometimes'\n")
    with pytest.raises(DjtuiError) as info:
        load_config(path)
    assert len(info.value.message.splitlines()) == 3


def test_closed_choices_are_enums_that_still_read_as_text():
    config = Config().updated({"audio": {"trigger": "push_to_talk"}})
    assert config.audio.trigger is Trigger.PUSH_TO_TALK and config.audio.trigger == "push_to_talk"
    assert config.to_dict()["audio"]["trigger"] == "push_to_talk"


def test_updating_checks_the_value_and_leaves_the_original_alone():
    config = Config()
    changed = config.updated({"asr": {"engine": "whisper"}})
    assert changed.asr.engine == "whisper" and config.asr.engine == "auto"
    with pytest.raises(DjtuiError, match=r"\[asr\] engine = 'kaldi'"):
        config.updated({"asr": {"engine": "kaldi"}})


def test_saving_keeps_what_djtui_does_not_understand(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("# my booth\n[safety]\nmin_confidence = 0.7\nfuture_setting = 'keep me'\n"
                    "[plugins]\nlights = true\n[vad]\nhangover_ms = 250\n")
    config = Config().updated({"safety": {"min_confidence": 0.8}})
    save_config(config, path)
    text = path.read_text()
    assert "future_setting = \"keep me\"" in text and "[plugins]" in text and "lights = true" in text
    assert "min_confidence = 0.8" in text
    assert "hangover_ms = 300" in text  # the config being saved is the truth for what djtui knows


def test_saving_never_overwrites_a_file_it_cannot_read(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[safety\nmin_confidence = 0.7\n")
    with pytest.raises(DjtuiError, match="not valid TOML"):
        save_config(Config(), path)
    assert path.read_text() == "[safety\nmin_confidence = 0.7\n"


def test_a_config_folder_that_cannot_be_written_is_a_message_not_a_crash(tmp_path):
    blocked = tmp_path / "config"
    blocked.write_text("a file where the folder should be")  # every write below it fails, even as root
    with pytest.raises(DjtuiError, match="cannot save the settings") as info:
        save_config(Config(), blocked / "config.toml")
    assert "writable" in info.value.hint


def test_a_write_that_fails_halfway_keeps_the_old_file(tmp_path):
    from djtui.core.fileio import write_atomic

    path = tmp_path / "c.toml"
    save_config(Config(), path)
    before = path.read_text()

    def crash_halfway(f):
        f.write(b"[safety]\nmin_conf")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomic(path, crash_halfway)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.toml"]  # no temp file left behind


@pytest.mark.parametrize("text, expected", [
    ("[vad]\nhangover_ms = 'long'\n", "(expected a whole number from 32 to 3000)"),
    ("[vad]\nthreshold = 1.0\n", "(expected a number from 0 to 1, not 0 or 1)"),
    ("[vad]\nearly_finalize = 1\n", "(expected true or false)"),
    ("[vad]\nhangover = 400\n", "unknown setting [vad] hangover; did you mean hangover_ms?"),
])
def test_a_broken_value_says_what_the_setting_expects(tmp_path, text, expected):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(DjtuiError) as info:
        load_config(path)
    assert expected in info.value.message
