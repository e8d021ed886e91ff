"""The accuracy-against-SNR plot of ``djtui eval`` (PNG, matplotlib's Agg backend)."""

from __future__ import annotations

from pathlib import Path

from djtui.evaluation.report import RHINO_BY_SNR, Report
from djtui.evaluation.trials import CLEAN


def plot_accuracy(report: Report, path: str | Path, title: str = "") -> Path:
    """Accuracy against SNR, with Rhino's published curve for reference (PNG, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from djtui.core.fileio import write_atomic

    noisy = [(float(k), v["accuracy"]) for k, v in report.by_snr.items() if k != CLEAN and v["n"]]
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    try:
        snrs = sorted(RHINO_BY_SNR)
        ax.plot(snrs, [100 * RHINO_BY_SNR[s] for s in snrs], "--", color="0.55", marker="s", markersize=4,
                label="Picovoice Rhino (published, coffee-maker benchmark)")
        if noisy:
            xs, ys = zip(*sorted(noisy))
            ax.plot(xs, [100 * y for y in ys], "-o", color="#d9480f", label=f"djtui ({report.engine})")
            ax.set_xticks(sorted(set(xs) | set(snrs)))
            top1 = sorted((float(k), v["top1_accuracy"]) for k, v in report.by_snr.items()
                          if k != CLEAN and v.get("top1_accuracy") is not None)
            if top1:
                ax.plot([x for x, _ in top1], [100 * y for _, y in top1], "--", color="#d9480f", alpha=0.45,
                        linewidth=1, label="djtui top-1, before the confidence thresholds")
        if CLEAN in report.by_snr and report.by_snr[CLEAN]["n"]:
            ax.axhline(100 * report.by_snr[CLEAN]["accuracy"], color="#d9480f", linestyle=":", linewidth=1,
                       label="djtui, clean")
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel("command acceptance rate (%)")
        ax.set_title(title or "Speech-to-intent accuracy against noise")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8, framealpha=0.9)
        fig.tight_layout()
        return write_atomic(path, lambda f: fig.savefig(f, format="png"))
    finally:
        plt.close(fig)
