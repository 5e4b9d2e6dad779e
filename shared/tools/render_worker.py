"""A row-rendering worker process (``python -P shared/tools/render_worker.py``; local tools only).

It reads render jobs from stdin and writes what ``shared.rules.render.render`` makes of them to
stdout, one frame per request: an 8-byte big-endian length, then a pickle. A reply is
``("ok", rendered, cpu_seconds)`` or ``("error", message)``. The parent is the only writer of
its stdin: when the parent goes (closed, killed), stdin ends and the worker exits. Ctrl-C goes
to the whole process group; the worker ignores it and lets the parent decide.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
import time
from typing import IO, Any

# Run as a script (see render_pool.WORKER_ARGS), this imports shared.rules and nothing of
# shared.tools: the package's __init__ would load the runtime's messages and settings.
from shared.rules.render import Rendered, RowColumns, render

_LENGTH = struct.Struct(">Q")


def read_frame(stream: IO[bytes]) -> bytes | None:
    """One frame's payload, or None at the end of the stream."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return payload


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    """Write one frame and flush it."""
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def by_column(rendered: Rendered) -> Rendered:
    """The rows as RowColumns (the same rows: far cheaper for the parent to load)."""
    columns = RowColumns.of(rendered.rows)
    return rendered if columns is None else Rendered(columns, rendered.rejected)


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """Answer requests until stdin ends."""
    while (payload := read_frame(stdin)) is not None:
        started = time.process_time()
        reply: tuple[Any, ...]
        try:
            rendered = [by_column(r) for r in render(pickle.loads(payload))]  # only our parent
            reply = ("ok", rendered, time.process_time() - started)  # writes to our stdin
        except Exception as exc:  # reported to the parent, which renders itself
            reply = ("error", f"{type(exc).__name__}: {exc}")
        write_frame(stdout, pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))


def main() -> None:
    """Entry point of the worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Replies get their own copy of stdout; anything else printed goes to stderr instead of
    # into the frames.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
