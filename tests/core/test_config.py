import pytest

from djtui.core import paths
from djtui.core.config import Config, load_config, save_config
from djtui.core.errors import DjtuiError


def test_missing_file_means_defaults(tmp_path):
    config = load_config(tmp_path / "none.toml")
    assert config == Config()
    assert config.safety.armed_at_start is False  # nothing reaches Rekordbox until armed


def test_save_then_load_round_trips_into_the_user_config_dir():
    config = Config()
    config.safety.min_confidence = 0.75
    config.audio.input_device = "USB Audio"
    config.ui.theme = "stage"
    path = save_config(config)
    assert path == paths.config_file() and path.exists()
    assert load_config() == config


def test_ints_are_accepted_where_floats_are_expected(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[safety]\nmin_confidence = 1\n")
    assert load_config(path).safety.min_confidence == 1.0


@pytest.mark.parametrize("text, message", [
    ("[safety\n", "not valid TOML"),
    ("[sefety]\nx = 1\n", "unknown section [sefety]"),
    ("[safety]\nmin_confidense = 0.5\n", "unknown setting [safety] min_confidense"),
    ("[safety]\nmin_confidence = 'high'\n", "wrong type"),
    ("[vad]\nhangover_ms = true\n", "wrong type"),
])
def test_a_broken_config_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(DjtuiError, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
        load_config(path)
    assert str(path) in str(info.value) and info.value.hint


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
