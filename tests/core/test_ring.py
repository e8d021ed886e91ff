"""The block ring between a writing and a reading thread: late is lost, and counted."""

from __future__ import annotations

import threading

from djtui.core.ring import BlockRing


def _taken(ring: BlockRing) -> list[bytes]:
    out, into = [], memoryview(bytearray(ring.slot_bytes))
    while size := ring.take(into):
        out.append(bytes(into[:size]))
    return out


def test_blocks_come_out_in_order_with_their_own_sizes():
    ring = BlockRing(slots=4, slot_bytes=8)
    for block in (b"ab", b"cdef", b"12345678"):
        ring.put(block)
    assert _taken(ring) == [b"ab", b"cdef", b"12345678"]
    assert ring.take(memoryview(bytearray(8))) == 0 and ring.overrun == 0


def test_a_block_longer_than_a_slot_is_cut_to_it():
    ring = BlockRing(slots=2, slot_bytes=4)
    ring.put(b"abcdefgh")
    assert _taken(ring) == [b"abcd"]


def test_a_reader_a_whole_ring_behind_loses_the_oldest_blocks_and_counts_them():
    ring = BlockRing(slots=4, slot_bytes=1)
    for n in range(10):  # the writer never waits for the reader
        ring.put(bytes([n]))
    # the slot after the newest may be being filled: only slots - 1 blocks are kept
    assert _taken(ring) == [bytes([7]), bytes([8]), bytes([9])]
    assert ring.overrun == 7


def test_a_writer_whose_stream_ended_commits_nothing():
    ring = BlockRing(slots=2, slot_bytes=4)
    assert ring.fill(lambda slot: 0) == 0
    assert ring.written == 0 and not ring.arrived.is_set()


def test_every_block_is_taken_or_counted_as_lost_across_threads():
    ring = BlockRing(slots=8, slot_bytes=4)
    total = 5000
    got: list[int] = []
    done = threading.Event()

    def read() -> None:
        into = memoryview(bytearray(4))
        while not done.is_set() or ring.read < ring.written:
            if ring.take(into):
                got.append(int.from_bytes(into, "little"))

    reader = threading.Thread(target=read)
    reader.start()
    for n in range(total):
        ring.put(n.to_bytes(4, "little"))
    done.set()
    reader.join()
    assert got == sorted(got) and len(set(got)) == len(got)  # in order, never twice
    assert len(got) + ring.overrun == total
