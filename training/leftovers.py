"""What a killed training run leaves on disk, and clearing it at the next start.

A run writing into ``OUTPUT`` makes, while it works and only then:

- ``OUTPUT/.candidate/``: the weights being validated (:data:`djtui.training.whisper.CANDIDATE`);
- ``OUTPUT/.vocab/`` and ``OUTPUT/.checkpoint.tmp/``: a wav2vec2's vocabulary while it
  trains and a checkpoint on its way into place (:mod:`djtui.training.wav2vec2`);
- ``.OUTPUT.whisper-XXXXXXXX/`` beside ``OUTPUT`` (and ``..candidate.whisper-XXXXXXXX/``
  inside it): the scratch folder a checkpoint is converted in
  (:func:`djtui.training.whisper_convert.save_ctranslate2`); older versions named it
  ``.whisper-XXXXXXXX``;
- ``OUTPUT/.NAME.XXXXXXXX.tmp``: a file being written atomically
  (:func:`djtui.core.fileio.write_atomic`), and ``OUTPUT/.djtui-probe-XXXXXXXX``: the
  file that checks the folder takes one (:func:`djtui.core.fileio.check_writable`).

A run that is killed (SIGKILL, a reboot, the power) cannot remove them, so the next run
on the same output does, before it starts: :func:`clear`. Only these names, made by
these functions, are touched — never a file of the DJ's, whatever it is called. A
``.whisper-XXXXXXXX`` beside the output could be another run's, writing into a sibling
folder, so that old name is only cleared inside ``OUTPUT`` or once it is an hour old (a
conversion takes seconds).
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

from djtui.core.fileio import PROBE
from djtui.training.wav2vec2 import STAGING, VOCAB
from djtui.training.whisper import CANDIDATE

log = logging.getLogger(__name__)

_RANDOM = r"[a-z0-9_]{8}"
"""What :mod:`tempfile` puts in a name."""
_ATOMIC_TEMP = re.compile(rf"^\..+\.{_RANDOM}\.tmp$")
_OLD_SCRATCH = re.compile(rf"^\.whisper-{_RANDOM}$")
_PROBE = re.compile(rf"^{re.escape(PROBE)}{_RANDOM}$")
STALE_S = 3600.0


def scratch_prefix(output: Path) -> str:
    """The prefix of the scratch folders a save into ``output`` makes beside it."""
    return f".{output.name}.whisper-"


def found(output: str | Path) -> list[Path]:
    """What killed runs left for ``output``: the paths :func:`clear` would remove."""
    output = Path(output)
    here: list[Path] = []
    if output.is_dir():
        candidate_scratch = scratch_prefix(Path(CANDIDATE))
        for item in output.iterdir():
            name = item.name
            work = name in (CANDIDATE, VOCAB, STAGING) or _is_scratch(name, candidate_scratch) or _OLD_SCRATCH.match(name)
            if (item.is_dir() and work) or (item.is_file() and (_ATOMIC_TEMP.match(name) or _PROBE.match(name))):
                here.append(item)
    beside: list[Path] = []
    if output.parent.is_dir():
        now = time.time()
        for item in output.parent.iterdir():
            if not item.is_dir():
                continue
            if _is_scratch(item.name, scratch_prefix(output)) or (
                    _OLD_SCRATCH.match(item.name) and now - item.stat().st_mtime > STALE_S):
                beside.append(item)
    return sorted(here) + sorted(beside)


def clear(output: str | Path) -> list[Path]:
    """Remove what killed runs left for ``output`` (see the module); what was removed."""
    removed = []
    for path in found(output):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        if not path.exists():
            removed.append(path)
    if removed:
        log.info("cleared what an earlier run left: %s", ", ".join(str(p) for p in removed))
    return removed


def _is_scratch(name: str, prefix: str) -> bool:
    return name.startswith(prefix) and re.fullmatch(_RANDOM, name[len(prefix):]) is not None
