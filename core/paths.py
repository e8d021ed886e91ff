"""Where djtui keeps things on this machine: the one place user paths are resolved.

``DJTUI_HOME`` (if set) puts config, data and cache under one folder, which tests and
portable set-ups use; otherwise the platform's own directories are used.
``DJTUI_CACHE_DIR`` moves just the cache (the test session shares one).
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "djtui"


def _home() -> Path | None:
    home = os.environ.get("DJTUI_HOME")
    return Path(home).expanduser() if home else None


def config_dir() -> Path:
    if home := _home():
        return home / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    if home := _home():
        return home / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP))


def cache_dir() -> Path:
    """Rebuildable things (the embedding index). ``DJTUI_CACHE_DIR`` overrides it."""
    if cache := os.environ.get("DJTUI_CACHE_DIR"):
        return Path(cache).expanduser()
    if home := _home():
        return home / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP))


def config_file() -> Path:
    return config_dir() / "config.toml"


def sessions_dir() -> Path:
    """Session logs (JSON lines) and their optional audio clips."""
    return data_dir() / "sessions"


def models_dir() -> Path:
    """Fine-tuned models the user trained; ``djtui train`` writes here by default."""
    return data_dir() / "models"


def context_model_dir(context_name: str, context_text: str) -> Path:
    """Where the context model of a context lives (the bundled Whisper adapted to its
    words, see ``djtui.training.context_model``): one folder per context text, so an
    edited context gets a model of its own."""
    import hashlib
    import re

    digest = hashlib.sha1(context_text.encode("utf-8")).hexdigest()[:12]
    # The name is the DJ's words: only its plain letters make the folder's name, so no
    # name can climb out of the models folder or make one the file system refuses.
    safe = re.sub(r"[^A-Za-z0-9_-]+", "-", context_name).strip("-")[:40] or "context"
    return models_dir() / "context" / f"{safe}-{digest}"


def embeddings_cache_dir() -> Path:
    return cache_dir() / "embeddings"


def assembled_models_dir() -> Path:
    """Models put together from installed packages (Whisper base, joined from the two
    parts it ships in): rebuildable, so in the cache."""
    return cache_dir() / "models"


def bundled_contexts_dir() -> Path:
    return Path(__file__).resolve().parent / "contexts"


def default_context() -> Path:
    return bundled_contexts_dir() / "dj.yaml"


def within(folder: str | Path, relative: str) -> Path:
    """``folder / relative``, promised to stay inside ``folder``.

    Data files (manifests, labels) name audio relative to their folder. An absolute path,
    one that climbs out with ``..`` or through a symbolic link, or one with a NUL byte
    raises ``ValueError`` saying which: djtui must not read or move files elsewhere
    because a data file says so.
    """
    if not relative or "\0" in relative:
        raise ValueError("empty path" if not relative else "path holds a NUL byte")
    if Path(relative).is_absolute() or relative.startswith(("/", "\\")) or relative[1:2] == ":":
        raise ValueError(f"absolute path {relative!r}: paths must be relative to the data folder")
    parts = relative.replace("\\", "/").split("/")
    if ".." in parts:
        raise ValueError(f"path {relative!r} climbs out of the data folder with '..'")
    root = Path(folder).resolve()
    try:
        target = (root / relative).resolve()
    except (OSError, RuntimeError) as exc:  # a symbolic link loop
        raise ValueError(f"path {relative!r} cannot be followed ({exc})") from None
    if not target.is_relative_to(root):
        raise ValueError(f"path {relative!r} leads out of the data folder (through a link)")
    return Path(folder) / relative
