"""Crash soak: SMS, WhatsApp and web chat customers, two agents, the server killed with SIGKILL.

``python -m bench.soak [--minutes 10] [--kills 3] [--seed N] [--write-report]``
(``--minutes 1 --kills 1`` for a quick run). Not part of bench/run.py: it takes its minutes.

On loopback: a fake Twilio API and a fake WhatsApp Cloud (Graph) API in this process, one
``threadline serve`` on SQLite running bench/soak_flows/soak.json (the bot quotes every message;
``#agent`` hands the conversation to the agents), customers on the three channels
(bench/soak_customers.py) and two agent desks (bench/soak_agents.py). At ``--kills`` moments
drawn from ``--seed`` the server gets SIGKILL and is started again on the same data directory
and port; customers retry unacknowledged webhooks, sockets reconnect and resume. After the
customers stop, the soak waits for replies still due (``--drain`` seconds at most), stops the
server and counts per channel, from the outside and from the database:

- acknowledged: webhooks answered 2xx (once per message, however many retries it took), web chat
  messages echoed back with their ``client_id``;
- stored: inbound rows in the SQLite database carrying the message's token;
- answered: replies carrying the token that reached the fake Twilio (SMS POSTs), the fake Graph
  API, or the customer's web chat socket (distinct message ids);
- answered twice: messages with more than one such reply;
- lost: acknowledged, but not stored or not answered.

Figures go to bench/soak_results.json (with the first lost, doubled and unacknowledged messages,
to start a diagnosis from); ``--write-report`` also writes RELIABILITY.md, and
``python -m bench.soak_report [--write-report]`` reprints a saved run (and its page).
``--data-dir DIR`` keeps the server's database and log for a look afterwards; ``--drain SECONDS``
bounds the wait for replies still due. The exit status is 1 when an acknowledged message was
lost, a Twilio reply went out twice or the server log holds a traceback. The report for the README:
``.venv/bin/python -m bench.soak --minutes 10 --kills 3 --seed 1 --write-report``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import random
import signal
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from bench import fake_meta, fake_twilio
from bench.common import machine
from bench.procs import REPO, Server, free_port, rss_kib
from bench.soak_agents import SoakAgent, create_agent
from bench.soak_customers import (
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    PUBLIC_URL,
    TWILIO_ACCOUNT,
    TWILIO_TOKEN,
    Customer,
    Pace,
    SmsCustomer,
    WebchatCustomer,
    Webhooks,
    WhatsAppCustomer,
    converse,
)
from bench.soak_ledger import Ledger, token_in
from bench.soak_report import CHANNELS, print_table, write_reliability

RESULTS = Path(__file__).resolve().parent / "soak_results.json"
FLOWS = Path(__file__).resolve().parent / "soak_flows"
ADMIN_TOKEN = "bench"  # bench.procs.Server's
# Kills fall in this part of the run, at least MIN_GAP seconds after the server is back.
KILL_WINDOW = (0.1, 0.85)
MIN_GAP = 15.0


@dataclass
class SoakConfig:
    minutes: float = 10.0
    kills: int = 3
    seed: int = 1
    sms: int = 8
    whatsapp: int = 8
    webchat: int = 8
    think: tuple[float, float] = (0.2, 1.2)
    drain: float = 180.0
    data_dir: Path | None = None


@dataclass
class Life:
    """One run of the server process, from start to SIGKILL (or the final stop)."""

    started_at: float  # seconds since the soak began
    start_seconds: float  # process start to /healthz answering
    rss_start_kib: int
    rss_start_total_kib: int  # with its children (the SQLite writer process)
    ended_at: float = 0.0
    ended_by: str = ""
    rss_end_kib: int = 0
    rss_end_total_kib: int = 0


@dataclass
class SoakRun:
    config: SoakConfig
    ledger: Ledger = field(default_factory=Ledger)
    lives: list[Life] = field(default_factory=list)
    began: float = field(default_factory=time.monotonic)

    def now(self) -> float:
        return round(time.monotonic() - self.began, 1)


class _QuietServer(uvicorn.Server):
    """uvicorn in this process's loop, leaving Ctrl-C to the soak."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_in_process(app: Starlette, port: int) -> tuple[_QuietServer, asyncio.Task[None]]:
    server = _QuietServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    return server, task


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    with contextlib.suppress(OSError):
        return [int(p) for p in path.read_text().split()]
    return []


def memory(pid: int) -> tuple[int, int]:
    """RSS in KiB of the server process, and of it with its children."""
    own = rss_kib(pid)
    total = own
    for child in children_of(pid):
        with contextlib.suppress(OSError, RuntimeError):
            total += rss_kib(child)
    return own, total


def kill_moments(config: SoakConfig) -> list[float]:
    """Seconds into the run at which to kill, drawn from the seed."""
    rng = random.Random(config.seed)
    seconds = config.minutes * 60
    low, high = (seconds * KILL_WINDOW[0], seconds * KILL_WINDOW[1])
    return sorted(rng.uniform(low, high) for _ in range(config.kills))


def server_env(twilio_port: int, meta_port: int) -> dict[str, str]:
    return {
        "THREADLINE_TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT,
        "THREADLINE_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "THREADLINE_TWILIO_API_BASE": f"http://127.0.0.1:{twilio_port}",
        "THREADLINE_PUBLIC_URL": PUBLIC_URL,
        "THREADLINE_WHATSAPP_VERIFY_TOKEN": META_VERIFY_TOKEN,
        "THREADLINE_WHATSAPP_APP_SECRET": META_APP_SECRET,
        "THREADLINE_WHATSAPP_ACCESS_TOKEN": "soak-meta-access-token",
        "THREADLINE_WHATSAPP_GRAPH_BASE": f"http://127.0.0.1:{meta_port}/{fake_meta.VERSION}",
        "THREADLINE_DEFAULT_FLOW": "soak",
    }


async def start_life(run: SoakRun, server: Server) -> None:
    started_at = run.now()
    seconds = await asyncio.to_thread(server.start)
    assert server.proc is not None
    own, total = memory(server.proc.pid)
    run.lives.append(Life(started_at, round(seconds, 1), own, total))
    up = f"server up in {seconds:.1f} s (rss {own / 1024:.0f} MiB)"
    print(f"[{run.now():7.1f}s] {up}", flush=True)


def end_life(run: SoakRun, server: Server, how: str) -> None:
    assert server.proc is not None
    life = run.lives[-1]
    life.rss_end_kib, life.rss_end_total_kib = memory(server.proc.pid)
    life.ended_at, life.ended_by = run.now(), how
    if how == "SIGKILL":
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait()
        server.proc = None
    else:
        server.stop()


async def kill_and_restart(run: SoakRun, server: Server, moments: list[float]) -> None:
    for moment in moments:
        life = run.lives[-1]
        earliest = life.started_at + life.start_seconds + MIN_GAP
        await asyncio.sleep(max(0.0, max(moment, earliest) - (time.monotonic() - run.began)))
        print(f"[{run.now():7.1f}s] SIGKILL", flush=True)
        end_life(run, server, "SIGKILL")
        await start_life(run, server)


async def drain(run: SoakRun, customers: list[asyncio.Task[None]], deadline: float) -> None:
    """Wait for the customers to finish and every acknowledged message to be answered."""
    while time.monotonic() < deadline:
        if all(task.done() for task in customers) and not run.ledger.waiting():
            return
        await asyncio.sleep(0.5)


def stored_rows(database: Path) -> list[tuple[str, str, str, str, int]]:
    """(channel, direction, text, status, handled) of every message the server stored."""
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return list(
            connection.execute(
                "SELECT c.channel, m.direction, COALESCE(m.text, ''), m.status, m.handled"
                " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            )
        )
    finally:
        connection.close()


def tracebacks(log: Path) -> dict[str, int]:
    """Each traceback in the server log by its last line (the exception)."""
    found: dict[str, int] = {}
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    for index, line in enumerate(lines):
        if not line.startswith("Traceback (most recent call last)"):
            continue
        summary = "(cut off)"
        for later in lines[index + 1 :]:
            if later and not later.startswith((" ", "\t", "Traceback")):
                summary = later.strip()[:200]
                break
        found[summary] = found.get(summary, 0) + 1
    return found


def count(run: SoakRun, rows: list[tuple[str, str, str, str, int]]) -> dict[str, Any]:
    """The per-channel table from the ledger and the database rows."""
    inbound: dict[str, int] = {}
    outbound: dict[str, int] = {}
    unhandled = 0
    for _channel, direction, text, _status, handled in rows:
        token = token_in(text)
        if token is None:
            continue
        target = inbound if direction == "inbound" else outbound
        target[token] = target.get(token, 0) + 1
        if direction == "inbound" and not handled:
            unhandled += 1
    table: dict[str, dict[str, int]] = {}
    lost_examples: list[dict[str, Any]] = []
    twice_examples: list[dict[str, Any]] = []
    unacknowledged: list[dict[str, Any]] = []
    for channel in CHANNELS:
        entries = [e for e in run.ledger.entries.values() if e.channel == channel]
        acknowledged = [e for e in entries if e.acknowledged_at is not None]
        lost = [e for e in acknowledged if not inbound.get(e.token) or not e.replies]
        lost_examples += [
            {
                "token": e.token,
                "kind": e.kind,
                "stored": inbound.get(e.token, 0),
                "replies": len(e.replies),
                "sent_at": e.sent_at,
            }
            for e in lost[:10]
        ]
        unacknowledged += [
            {"token": e.token, "kind": e.kind, "attempts": e.attempts, "sent_at": e.sent_at}
            for e in entries
            if e.acknowledged_at is None
        ][:10]
        # Where a doubled reply came from: its authors, and when each reached the customer.
        twice_examples += [
            {
                "token": e.token,
                "kind": e.kind,
                "sent_at": e.sent_at,
                "replies": [(r.reply_id, r.author, round(r.at - e.sent_at, 2)) for r in e.replies],
            }
            for e in [e for e in entries if len(e.replies) > 1][:10]
        ]
        table[channel] = {
            "sent": len(entries),
            "acknowledged": len(acknowledged),
            "not_acknowledged": len(entries) - len(acknowledged),
            "stored": sum(1 for e in entries if inbound.get(e.token)),
            "stored_twice": sum(1 for e in entries if inbound.get(e.token, 0) > 1),
            "answered": sum(1 for e in acknowledged if e.replies),
            "answered_by_agent": sum(
                1 for e in acknowledged if e.replies and e.replies[0].author == "agent"
            ),
            "answered_twice": sum(1 for e in entries if len(e.replies) > 1),
            "replies_stored_twice": sum(1 for e in entries if outbound.get(e.token, 0) > 1),
            "lost": len(lost),
            "retried": sum(1 for e in entries if e.attempts > 1),
        }
    return {
        "table": table,
        "unhandled_inbound": unhandled,
        "stray_replies": len(run.ledger.strays),
        "lost_examples": lost_examples,
        "twice_examples": twice_examples,
        "unacknowledged_examples": unacknowledged,
    }


async def soak(config: SoakConfig) -> dict[str, Any]:
    run = SoakRun(config)
    ledger = run.ledger
    twilio_outbox = fake_twilio.Outbox(lambda m: ledger.reply(m["body"], m["sid"]))
    meta_outbox = fake_meta.Outbox(lambda m: ledger.reply(fake_meta.text_of(m), m["id"]))
    twilio_port, meta_port = free_port(), free_port()
    fakes = [
        await serve_in_process(fake_twilio.make_app(twilio_outbox), twilio_port),
        await serve_in_process(fake_meta.make_app(meta_outbox), meta_port),
    ]
    with contextlib.ExitStack() as stack:
        if config.data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tl-soak-")))
        else:
            data_dir = config.data_dir
        server = Server(data_dir, FLOWS, env=server_env(twilio_port, meta_port))
        rng = random.Random(config.seed)
        hooks = Webhooks(server.base)
        agents: list[SoakAgent] = []
        webchat: list[WebchatCustomer] = []
        tasks: list[asyncio.Task[None]] = []
        background: list[asyncio.Task[None]] = []
        try:
            await start_life(run, server)
            ws_base = f"ws://127.0.0.1:{server.port}"
            for name in ("ada", "bea"):
                token = await asyncio.to_thread(create_agent, server.base, ADMIN_TOKEN, name)
                agents.append(SoakAgent(name, token, ws_base + "/agents/ws", ledger))
            webchat = [
                WebchatCustomer(i, ws_base + "/channels/webchat/ws", ledger)
                for i in range(config.webchat)
            ]
            customers: list[Customer] = [
                *(SmsCustomer(i, hooks) for i in range(config.sms)),
                *(WhatsAppCustomer(i, hooks) for i in range(config.whatsapp)),
                *webchat,
            ]
            background += [asyncio.create_task(a.run()) for a in agents]
            background += [asyncio.create_task(w.run()) for w in webchat]
            seconds = config.minutes * 60
            stop_at = time.monotonic() + seconds
            pace = Pace(stop_at, stop_at + config.drain, config.think)
            tasks = [
                asyncio.create_task(converse(c, ledger, pace, random.Random(rng.random())))
                for c in customers
            ]
            killer = asyncio.create_task(kill_and_restart(run, server, kill_moments(config)))
            await asyncio.sleep(seconds)
            await killer  # a restart under way finishes first
            print(f"[{run.now():7.1f}s] customers stop; draining", flush=True)
            await drain(run, tasks, stop_at + config.drain)
            end_life(run, server, "stop")
        finally:
            for task in tasks:
                task.cancel()
            for client in (*agents, *webchat):
                await client.stop()
            for task in background:
                task.cancel()
            await hooks.aclose()
            server.stop()
            for fake, fake_task in fakes:
                fake.should_exit = True
                await fake_task
        counts = count(run, stored_rows(data_dir / "threadline.db"))
        errors = tracebacks(data_dir / "server.log")
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "config": {**asdict(config), "data_dir": str(config.data_dir or "")},
        "seconds": run.now(),
        **counts,
        "tracebacks": errors,
        "traceback_count": sum(errors.values()),
        "lives": [asdict(life) for life in run.lives],
        "kills": sum(1 for life in run.lives if life.ended_by == "SIGKILL"),
        "webhook_answers": hooks.statuses,
        "twilio_lookups": twilio_outbox.lookups,
        "whatsapp_reads": meta_outbox.reads,
        "webchat_connects": sum(w.connects for w in webchat),
        "webchat_errors": _merged(w.errors for w in webchat),
        "agents": {a.name: {"connects": a.connection, **a.counts} for a in agents},
    }


def _merged(counts: Iterator[dict[str, int]] | Any) -> dict[str, int]:
    merged: dict[str, int] = {}
    for item in counts:
        for key, value in item.items():
            merged[key] = merged.get(key, 0) + value
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--drain", type=float, default=180.0, help="longest wait for replies due")
    parser.add_argument("--data-dir", type=Path, help="keep the server's data (and log) here")
    parser.add_argument("--write-report", action="store_true", help="write RELIABILITY.md")
    args = parser.parse_args(argv)
    config = SoakConfig(
        minutes=args.minutes,
        kills=args.kills,
        seed=args.seed,
        drain=args.drain,
        data_dir=args.data_dir,
    )
    results = asyncio.run(soak(config))
    print_table(results)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwritten {RESULTS}")
    if args.write_report:
        path = write_reliability(results, REPO / "RELIABILITY.md")
        print(f"written {path}")
    table = results["table"].values()
    clean = all(row["lost"] == 0 for row in table) and results["traceback_count"] == 0
    twilio_twice = results["table"]["sms"]["answered_twice"]
    return 0 if clean and twilio_twice == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
