"""A context's near-collisions: sentences of different commands that say, or sound, the
same, found and reported with the lines of both intents."""

from __future__ import annotations

from djtui.cli import main
from djtui.core.ambiguity import ambiguities
from djtui.core.context_file import default_context, parse_context

PLANTED = """\
context:
  name: planted
  slots:
    deck:
      "1": [one]
      "2": [two]
    effect:
      filter: [filter]
      echo: [echo]
  intents:
    cfx_on:
      expressions: ["filter on deck $deck:deck"]
      action: {function: CFXOn, type: note, number: 60, channel: 4}
    fx_select:
      expressions: ["$effect:effect on deck two", "$effect:effect effect"]
      action: {key: "{effect}", function: {filter: FX.FILTER, echo: FX.ECHO}, number: {filter: 76, echo: 71}, type: note, channel: 4}
    fx_off:
      expressions: ["good night"]
      action: {function: FXOff, type: note, number: 70, channel: 4}
    browse:
      expressions: ["good knight"]
      action: {function: Browse, type: note, number: 71, channel: 4}
"""


def test_a_planted_collision_is_found_worst_first():
    found = ambiguities(parse_context(PLANTED))
    assert found.exhaustive
    first = found.ambiguities[0]
    assert first.kind == "identical" and first.sentences == ("filter on deck two", "filter on deck two")
    assert {c[0] for c in first.commands} == {"cfx_on", "fx_select"}
    # "good night" and "good knight": other words, the same sounds
    assert any(a.kind == "homophones" and {c[0] for c in a.commands} == {"fx_off", "browse"} for a in found.ambiguities)


def test_contexts_check_reports_both_intents_lines(tmp_path, capsys):
    path = tmp_path / "planted.yaml"
    path.write_text(PLANTED)
    assert main(["contexts", "check", str(path)]) == 0  # a warning: the context is still valid
    out = capsys.readouterr().out
    assert f'{path}:11: ambiguous, identical: "filter on deck two" is cfx_on(deck=2), "filter on deck two" ({path}:14) ' \
           "is fx_select(effect=filter)" in out


def test_the_bundled_context_has_no_identical_sentences():
    found = ambiguities(default_context())
    assert not [a for a in found.ambiguities if a.kind in ("identical", "homophones")]
    # what music blurs first is still reported: deck letters one sound apart
    assert any(set(a.differ) == {"b", "d"} for a in found.ambiguities)
