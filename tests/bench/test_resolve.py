import json

from djtui.cli import main


def test_bench_resolve_reports_percentiles_with_and_without_embeddings(capsys, tmp_path):
    context = tmp_path / "tiny.yaml"
    context.write_text("""\
context:
  slots:
    deck: {"1": [one, left], "2": [two, right]}
  intents:
    play: ["play (deck) $deck:deck"]
    pause: ["pause (deck) $deck:deck"]
""")
    assert main(["bench", "resolve", "-n", "12", "--json", "--context", str(context)]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = report["results"]
    assert [r["semantic_weight"] for r in rows] == [0.35, 0.0]
    for row in rows:
        assert row["n"] == 12 and row["sentences"] == 16
        assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["max_ms"]
