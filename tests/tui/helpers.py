"""Reading what the TUI shows and waiting for it, for the Pilot tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual.geometry import Region
from textual.widget import Widget


def text_of(widget: Widget) -> str:
    """What ``widget`` shows on screen, as plain text."""
    return "\n".join(strip.text for strip in widget.render_lines(Region(0, 0, *widget.size)))


async def until(pilot: Any, condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    """Let the app run until ``condition()`` is truthy (it may raise while not ready)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            result = condition()
        except Exception:  # noqa: BLE001 - not there yet
            result = None
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
