"""What listening costs: djtui's share of the CPU and whether it keeps up with the audio."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static


class UsageMeter(Static):
    """Set :attr:`cpu_share` (of the whole machine, 0..1) and :attr:`realtime_factor`
    (seconds spent understanding per second of audio); ``None`` until the first reading.
    Shown as a warning when it falls behind (a real-time factor of 1 or more)."""

    cpu_share: reactive[float | None] = reactive(None)
    realtime_factor: reactive[float | None] = reactive(None)
    cores: reactive[int] = reactive(1)

    def render(self) -> Text:
        if self.cpu_share is None or self.realtime_factor is None:
            return Text("CPU: measured while listening")
        keeping = "keeps up" if self.realtime_factor < 1.0 else "FALLING BEHIND: commands will come late"
        return Text(f"CPU {100 * self.cpu_share:.0f} % of {self.cores} cores · "
                    f"{self.realtime_factor:.2f} s work per s of audio · {keeping}")

    def watch_realtime_factor(self, realtime_factor: float | None) -> None:
        self.set_class(realtime_factor is not None and realtime_factor >= 1.0, "-behind")
