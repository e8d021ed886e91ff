"""The capture process: one PortAudio input as a stream of float32 blocks on stdout.

djtui records through a child process (``python -m djtui.core.capture``), never through
PortAudio in its own: PortAudio's JACK host API cannot rejoin a JACK server that was
restarted, and re-initialising PortAudio after its server died, or merely exiting,
aborts the process (an assert in pa_jack.c). A child may die of that; djtui must not.
A fresh child sees a restarted server or a device plugged back in
(:class:`djtui.core.audio.MicrophoneSource` starts one until it does).

The child writes messages, each an 8-byte header (a 4-byte tag, the payload's length in
bytes, little-endian) and a payload:

- ``news``: one JSON object. First ``{"opened": {"device", "hostapi", "rate", "frames",
  "channels"}}``, or ``{"failed": {"message", "hint"}}`` and the child exits; later
  ``{"lost": n}`` when its count of lost blocks rises (input overflows PortAudio
  reported, plus blocks the reader was a whole ring behind on), and ``{"stopped":
  reason}`` just before it exits because its stream ended (the server or the device
  went away).
- ``pcm ``: one block of float32 samples at the device's rate, ``frames`` long, its
  ``channels`` interleaved (frame by frame: channel 1, channel 2, …).

``--channels N`` asks for the device's first N channels in one stream (the microphone on
input 1 and the mix on input 2 of one interface: one clock, the samples aligned by the
hardware); a device with fewer opens with what it has, and ``opened`` says how many.

It stops when its stdin reaches end of file (djtui closed it, or djtui is gone). The
PortAudio callback only copies into a preallocated ring; a writer thread hands blocks
on, so a reader that falls behind never stalls the audio thread.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import struct
import sys
import threading
from typing import Any, BinaryIO

from djtui.core.ring import BlockRing

HEADER = struct.Struct("<4sI")
NEWS = b"news"
PCM = b"pcm "
SAMPLE_BYTES = 4  # float32
RING_SLOTS = 64
"""Blocks the child holds for a reader that falls behind: ~2 s of 32 ms blocks."""


def command(device: str | int | None, sample_rate: int, block: int, channels: int = 1) -> list[str]:
    """The command line of a capture process for ``device`` (``None``: the default input)
    delivering blocks of its first ``channels`` that resample to ``block`` samples at
    ``sample_rate``."""
    argv = [sys.executable, "-m", "djtui.core.capture", "--rate", str(sample_rate), "--block", str(block)]
    argv += ["--channels", str(channels)] if channels != 1 else []
    return argv + ([f"--device={device}"] if device is not None else [])  # "=": a name may start with "-"


def input_devices(sd: Any) -> list[dict[str, Any]]:
    """Input devices known to an initialised ``sounddevice`` as ``{"index", "name",
    "hostapi", "channels", "sample_rate", "default"}``."""
    hostapis = sd.query_hostapis()
    try:
        default_input = sd.default.device[0]
    except Exception:  # noqa: BLE001 - no default device is a normal state
        default_input = -1
    return [
        {
            "index": index,
            "name": device["name"],
            "hostapi": hostapis[device["hostapi"]]["name"],
            "channels": device["max_input_channels"],
            "sample_rate": int(device["default_samplerate"]),
            "default": index == default_input,
        }
        for index, device in enumerate(sd.query_devices())
        if device["max_input_channels"] > 0
    ]


def device_hint(devices: list[dict[str, Any]]) -> str:
    """What to set when the configured input is not there."""
    if not devices:
        return "no input devices found: plug in a microphone or audio interface (or start JACK)"
    return "set [audio] input_device to one of: " + "; ".join(f"{d['index']}: {d['name']} ({d['hostapi']})" for d in devices)


class Failure(Exception):
    """The input cannot be opened: ``message`` and ``hint`` go to djtui as they are."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


class _Input:
    """PortAudio's callback into a :class:`~djtui.core.ring.BlockRing`, counting the
    input overflows PortAudio reports (the device, or JACK, dropped input before us)."""

    def __init__(self, ring: BlockRing) -> None:
        self.ring = ring
        self.overflows = 0  # the callback's count; the ring's reader counts its own

    def callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        if status.input_overflow:
            self.overflows += 1
        self.ring.put(indata)

    @property
    def lost(self) -> int:
        return self.overflows + self.ring.overrun


def send(out: BinaryIO, tag: bytes, payload: bytes | memoryview) -> None:
    out.write(HEADER.pack(tag, len(payload)))
    out.write(payload)
    out.flush()


def send_news(out: BinaryIO, news: dict[str, Any]) -> None:
    send(out, NEWS, json.dumps(news).encode())


def choose_input(sd: Any, device: str | int | None, sample_rate: int, block: int, channels: int = 1) -> dict[str, Any]:
    """What ``device`` will deliver: its name, host API, ``rate`` (``sample_rate`` when it
    offers it, else its own), ``frames`` per block (``block`` samples once resampled) and
    ``channels`` (as many as asked for, or all it has). :class:`Failure` when it is not
    there."""
    try:
        info = sd.query_devices(device, kind="input")
    except (ValueError, sd.PortAudioError) as exc:
        what = f"audio input {device!r}" if device is not None else "the default audio input"
        raise Failure(f"{what} not found ({exc})", device_hint(input_devices(sd))) from None
    rate = int(info["default_samplerate"])
    channels = max(1, min(channels, int(info["max_input_channels"])))
    try:  # take the model's rate directly when the device offers it
        sd.check_input_settings(device=device, channels=channels, samplerate=sample_rate, dtype="float32")
        rate = sample_rate
    except (ValueError, sd.PortAudioError):
        pass
    return {"device": str(info["name"]), "hostapi": str(sd.query_hostapis(info["hostapi"])["name"]),
            "rate": rate, "frames": max(1, rate * block // sample_rate), "channels": channels}


def start_input(sd: Any, device: str | int | None, chosen: dict[str, Any], source: _Input) -> Any:
    """The started input stream, filling ``source``'s ring; :class:`Failure` when it won't open."""
    try:
        stream = sd.RawInputStream(device=device, channels=chosen["channels"], samplerate=chosen["rate"], blocksize=chosen["frames"],
                                   dtype="float32", callback=source.callback)
        stream.start()
    except (ValueError, sd.PortAudioError) as exc:
        raise Failure(f"cannot open audio input {chosen['device']!r} ({exc})",
                      "close other programs using it, or pick another device with [audio] input_device") from None
    return stream


def capture(out: BinaryIO, stream: Any, source: _Input, stop: threading.Event, poll_s: float) -> str:
    """Hand blocks to ``out`` until ``stop`` or the stream ends; why it ended."""
    ring = source.ring
    block = memoryview(bytearray(ring.slot_bytes))
    reported = 0
    while not stop.is_set():
        ring.arrived.wait(poll_s)
        ring.arrived.clear()
        while size := ring.take(block):
            send(out, PCM, block[:size])
        if source.lost != reported:
            reported = source.lost
            send_news(out, {"lost": reported})
        if not stream.active:
            return "the audio stream stopped (its server or device went away)"
    return ""


def run(out: BinaryIO, device: str | int | None, sample_rate: int, block: int, channels: int = 1) -> None:
    """Open ``device``, announce it on ``out`` and capture until stdin ends or the stream
    does (see the module)."""
    try:
        import sounddevice as sd
    except OSError as exc:  # the module loads libportaudio at import
        raise Failure(f"cannot use the sound system: PortAudio is missing ({exc})",
                      "install PortAudio (Debian/Ubuntu: apt install libportaudio2; macOS: brew install portaudio)") from None
    chosen = choose_input(sd, device, sample_rate, block, channels)
    source = _Input(BlockRing(RING_SLOTS, chosen["frames"] * chosen["channels"] * SAMPLE_BYTES))
    stream = start_input(sd, device, chosen, source)
    send_news(out, {"opened": chosen})
    stop = threading.Event()

    def stop_at_end_of_stdin() -> None:
        sys.stdin.buffer.read()
        stop.set()
        source.ring.arrived.set()

    threading.Thread(target=stop_at_end_of_stdin, name="djtui-capture-stdin", daemon=True).start()
    stopped = capture(out, stream, source, stop, poll_s=0.1)
    if stopped:
        send_news(out, {"stopped": stopped})
    else:  # asked to stop with the stream alive: leave the server (JACK) cleanly
        stream.close(ignore_errors=True)
        sd._terminate()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m djtui.core.capture", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", help="input name (every word must match) or index; default: the system's")
    parser.add_argument("--rate", type=int, required=True, help="the rate djtui wants, taken when the device offers it")
    parser.add_argument("--block", type=int, required=True, help="samples per block at --rate")
    parser.add_argument("--channels", type=int, default=1, help="the device's first N channels, interleaved (default 1)")
    args = parser.parse_args(argv)
    device = int(args.device) if args.device and args.device.strip().isdigit() else args.device
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in djtui's terminal is for djtui: it closes our stdin
    out = sys.stdout.buffer
    code = 0
    try:
        try:
            run(out, device, args.rate, args.block, max(1, args.channels))
        except Failure as failure:
            send_news(out, {"failed": {"message": failure.message, "hint": failure.hint}})
    except BrokenPipeError:  # djtui went away: nobody to tell
        pass
    except Exception:  # noqa: BLE001 - djtui reads the end of our output as a lost input and logs stderr
        import traceback

        traceback.print_exc()
        code = 1
    # Never through Python's exit: sounddevice's exit handler terminates PortAudio, which
    # aborts when its JACK server died first.
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
