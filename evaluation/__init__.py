"""Measuring djtui the way the speech-to-intent field does (``djtui eval``).

- :mod:`~djtui.evaluation.labels`: what each recording says (manifest or label.json);
- :mod:`~djtui.evaluation.trials`: the live listener run over labelled recordings, clean
  and mixed with noise, and over audio with no command in it;
- :mod:`~djtui.evaluation.report`: accuracy per condition, confusions, calibration,
  latency, and the report as JSON and Markdown;
- :mod:`~djtui.evaluation.plot`: accuracy against SNR beside Picovoice Rhino's curve.

Noise and its mixing rules live in :mod:`djtui.core.noise` (training shares them).
"""
