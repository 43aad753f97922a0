"""Where the SMS scenario's CPU goes: milliseconds of CPU per message for each process.

``python -m bench.profile_sms [--customers N] [--py-spy server|writer OUT.json]`` runs scenario 1
once (N customers, two messages each, as ``bench/run.py`` does) and prints the throughput and
the CPU each process spent per message: the server, its SQLite writer process, the fake Twilio
API and this load generator. With ``--py-spy`` (``pip install py-spy``) it also records a
speedscope profile of the server's or the writer's Python, counting only samples that hold the
interpreter lock. The before/after figures in BENCHMARKS.md come from this and ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench import sms_load
from bench.procs import Server, free_port, start_helper

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--py-spy", nargs=2, metavar=("server|writer", "OUT.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tl-profile-") as tmp:
        fake_port = free_port()
        fake = start_helper(["bench.fake_twilio", str(fake_port)], fake_port)
        server = Server(Path(tmp) / "threadline", env=sms_load.twilio_env(fake_port))
        server.start()
        assert server.proc is not None
        writers = children(server.proc.pid)
        pids = {"server": server.proc.pid, "writer": writers[0] if writers else None}
        spy = None
        if args.py_spy:
            target, out = args.py_spy
            if shutil.which("py-spy") is None or pids.get(target) is None:
                raise SystemExit(f"py-spy is not installed, or there is no {target} process")
            command = ["py-spy", "record", "--gil", "-r", "200", "-f", "speedscope", "-o", out]
            spy = subprocess.Popen([*command, "-p", str(pids[target])])
            time.sleep(1)
        watched = {name: pid for name, pid in pids.items() if pid is not None}
        watched["fake Twilio"] = fake.pid
        before = {name: cpu_seconds(pid) for name, pid in watched.items()}
        loader_before = time.process_time()
        try:
            elapsed = sms_load.drive([server], fake_port, args.customers).elapsed
            messages = 2 * args.customers
            print(f"{messages / elapsed:,.0f} msgs/s ({messages} messages in {elapsed:.1f} s)")
            for name, pid in watched.items():
                used = (cpu_seconds(pid) - before[name]) / messages * 1000
                print(f"  {name}: {used:.2f} ms CPU per message")
            loader = (time.process_time() - loader_before) / messages * 1000
            print(f"  load generator: {loader:.2f} ms CPU per message")
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait()
            server.stop()
            fake.terminate()
            fake.wait(timeout=10)


if __name__ == "__main__":
    main()
