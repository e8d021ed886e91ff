"""The top-5 readings of an utterance, each with its score as a bar."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class CandidateBars(Widget):
    """Ranked ``(label, score)`` rows, score in [0, 1]; the first row is the one acted on.

    Set :attr:`rows`; an empty tuple shows ``placeholder``."""

    COMPONENT_CLASSES = {"candidate-bars--top", "candidate-bars--rest", "candidate-bars--bar", "candidate-bars--empty"}

    rows: reactive[tuple[tuple[str, float], ...]] = reactive((), layout=True)

    def __init__(self, placeholder: str = "no candidates yet", **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.placeholder = placeholder

    def get_content_height(self, container: object, viewport: object, width: int) -> int:
        return max(1, len(self.rows))

    def render(self) -> Text:
        if not self.rows:
            return Text(self.placeholder, self.get_component_rich_style("candidate-bars--empty"))
        width = self.size.width
        # The reading is what the DJ needs whole ("beat_jump(beats=2 deck=1 direction=back)"):
        # the bar gives way first, down to a tenth of the line.
        bar_min = max(4, width // 10)
        label_width = max(8, min(max(len(label) for label, _ in self.rows), width - 8 - bar_min))
        bar_width = max(4, width - label_width - 8)  # "1 " + label + " " + bar + " 0.90"
        bar_style = self.get_component_rich_style("candidate-bars--bar")
        empty_style = self.get_component_rich_style("candidate-bars--empty")
        out = Text(no_wrap=True, overflow="ellipsis")
        for rank, (label, score) in enumerate(self.rows):
            style = self.get_component_rich_style("candidate-bars--top" if rank == 0 else "candidate-bars--rest")
            filled = round(min(1.0, max(0.0, score)) * bar_width)
            if rank:
                out.append("\n")
            out.append(f"{rank + 1} ", style)
            out.append(f"{label[:label_width]:<{label_width}} ", style)
            out.append("█" * filled, bar_style)
            out.append("░" * (bar_width - filled), empty_style)
            out.append(f" {score:4.2f}", style)
        return out
