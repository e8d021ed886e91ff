"""Speed measurements (``djtui bench …``): benchmarks, not tests. Run them on a quiet
machine and read medians; the machine is noisy.

- :mod:`~djtui.bench.resolve`: the text resolver on garbled transcripts;
- :mod:`~djtui.bench.latency`: spoken commands played in real time into the live
  pipeline, end of speech and endpoint to MIDI sent, per stage;
- :mod:`~djtui.bench.hud`: the same with the TUI's Live HUD drawing, against headless.
"""
