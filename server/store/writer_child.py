"""The SQLite writer process's own side (see ``writer_process``).

Run by the server as ``python -m server.store.writer_child FD URL``: FD is its end of a socket
pair. Kept apart from ``writer_process``, which the ``server.store`` package imports, so that
running this module does not import it twice.
"""

from __future__ import annotations

import pickle
import signal
import socket
import sys

from server.store.database import create_sqlite_writer_engine
from server.store.sync_writer import run_batch
from server.store.writer_process import LENGTH, READY, SyncOperation, portable, portable_error


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def serve(fd: int, url: str) -> None:
    """The child's loop: a batch in, its outcomes out, until the server closes the socket or
    dies."""
    # Ctrl+C in a terminal, or a service manager, signals the whole process group: the server
    # still commits what it holds while it shuts down, so the child stops only when the server
    # closes the socket.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    engine = create_sqlite_writer_engine(url)
    sock = socket.socket(fileno=fd)
    try:
        with engine.connect():  # opens the file and applies the connection's pragmas
            pass
        sock.sendall(READY)
        while True:
            header = _recv_exactly(sock, LENGTH.size)
            if header is None:
                return
            body = _recv_exactly(sock, LENGTH.unpack(header)[0])
            if body is None:
                return
            operations: list[SyncOperation] = pickle.loads(body)
            outcomes = [
                (True, portable(value)) if ok else (False, portable_error(value))
                for ok, value in run_batch(engine, operations)
            ]
            payload = pickle.dumps(outcomes, protocol=pickle.HIGHEST_PROTOCOL)
            sock.sendall(LENGTH.pack(len(payload)) + payload)
    except ConnectionError:
        # The server died (killed outright): sending finds the socket closed (BrokenPipeError),
        # or reading finds it reset because the server left our last outcomes unread
        # (ConnectionResetError). Either way nobody is left to answer; its end is an EOF's.
        return
    finally:
        engine.dispose()
        sock.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
