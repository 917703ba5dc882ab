"""The load driver: signed webhooks from many distinct citizens, as whole conversations.

One asyncio loop with one aiohttp connection pool. Two ways to drive:

* `fixed_rate`: an open-loop schedule of ``rate`` messages per second (a message is sent at
  its planned time whether or not earlier ones were answered), as providers do;
* `closed_loop`: ``concurrency`` senders back to back, for the highest rate sustained.

Each message is either the next answer of a citizen whose bot question has arrived at the
loopback provider, or the first message of a new citizen. Every loop is bounded by a count
and a deadline, and every URL must be on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from adapters.base import ChannelAdapter, SimulatedRequest

DESCRIPTION = "Jalan berlubang di depan SDN 3 Sukamaju, sudah sebulan tidak diperbaiki dan membahayakan"
LOCATION = "Jl. Merdeka No. 10, Kelurahan Sukamaju"
MAX_TURNS = 8
DONE = "__done__"

# (variant, adapter channel, mobile prefix). Different prefixes keep the aggregator's and
# Twilio's `tel:` citizens apart, since both channels own phone numbers.
VARIANTS: tuple[tuple[str, str, str], ...] = (
    ("sms", "sms", "+62812"),
    ("twilio-sms", "twilio", "+62813"),
    ("twilio-wa", "twilio", "+62814"),
    ("whatsapp", "whatsapp", "+62815"),
    ("telegram", "telegram", ""),
)
_serial = itertools.count(1)


def next_answer(text: str) -> str | None:
    """What a citizen answers to a bot message: the next answer, DONE, or None (not a question)."""
    lowered = text.lower()
    if "tercatat: #" in lowered or "laporan anda tercatat" in lowered:
        return DONE
    if "balas ya" in lowered:
        return "YA"
    if "siapa yang boleh tahu" in lowered or "pilih privasi" in lowered:
        return "2"
    if "pilih kategori" in lowered:
        return "1"
    if "di mana lokasinya" in lowered:
        return LOCATION
    if "apa yang terjadi" in lowered or "lebih rinci" in lowered:
        return DESCRIPTION
    return None


@dataclass
class Citizen:
    key: str  # variant:digits, as the provider process reports replies
    variant: str
    channel: str
    sender: str
    next_text: str = DESCRIPTION
    turns: int = 0
    outstanding: float | None = None  # when the unanswered message was sent
    ready: bool = True
    done: bool = False
    failed: bool = False


def new_citizen(variant: str, channel: str, prefix: str) -> Citizen:
    n = next(_serial)
    if variant == "telegram":
        digits = str(700_000_000 + n)
        sender = f"telegram:{digits}"
    else:
        number = f"{prefix}{n:08d}"
        digits = number.lstrip("+")
        sender = f"whatsapp:{number}" if variant == "twilio-wa" else number
    return Citizen(key=f"{variant}:{digits}", variant=variant, channel=channel, sender=sender)


def _provider_message_id(channel: str) -> str:
    if channel == "telegram":
        return str(next(_serial) % 2_000_000_000)
    if channel == "twilio":
        return "SM" + uuid.uuid4().hex
    if channel == "whatsapp":
        return "wamid.bench" + uuid.uuid4().hex
    return uuid.uuid4().hex[:16].upper()


@dataclass
class PhaseStats:
    """Everything one phase measured; `summary` turns it into JSON-ready numbers."""

    name: str
    started: float = field(default_factory=time.time)
    send_ended: float = 0.0
    ended: float = 0.0
    sent: int = 0
    acked_ok: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    exceptions: Counter[str] = field(default_factory=Counter)
    ack_latencies: list[float] = field(default_factory=list)
    ack_times: list[float] = field(default_factory=list)
    reply_latencies: list[float] = field(default_factory=list)
    reply_times: list[float] = field(default_factory=list)
    first_messages: int = 0
    answers: int = 0
    completed: int = 0
    no_reply: int = 0
    schedule_lag_max: float = 0.0
    overload_skips: int = 0

    @property
    def errors(self) -> int:
        bad = sum(n for code, n in self.statuses.items() if not code.startswith("2"))
        return bad + sum(self.exceptions.values()) + self.overload_skips


class Driver:
    """Sends signed webhooks to ``base_url`` and matches the replies the providers receive."""

    def __init__(
        self,
        base_url: str,
        adapters: dict[str, ChannelAdapter],
        replies: Any | None,
        *,
        path_override: str | None = None,
        max_inflight: int = 512,
    ) -> None:
        host = urlsplit(base_url).hostname
        if host != "127.0.0.1":
            raise ValueError("the bench sends traffic to 127.0.0.1 only")
        self.base_url = base_url.rstrip("/")
        self.adapters = adapters
        self.path_override = path_override
        self.max_inflight = max_inflight
        self.citizens: dict[str, Citizen] = {}
        self.ready: deque[Citizen] = deque()
        self.stats: PhaseStats | None = None
        self.stray_replies = 0
        self._variants = itertools.cycle(VARIANTS)
        self._replies = replies
        self._inflight = 0
        self._stop_pump = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- replies from the provider process ----------------------------------------------
    def _pump(self) -> None:
        while not self._stop_pump.is_set():
            try:
                item = self._replies.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._on_reply, *item)

    def _on_reply(self, received_at: float, key: str, text: str) -> None:
        citizen = self.citizens.get(key)
        stats = self.stats
        if citizen is None or stats is None:
            self.stray_replies += 1
            return
        if citizen.outstanding is not None:
            stats.reply_latencies.append(max(0.0, received_at - citizen.outstanding))
            stats.reply_times.append(received_at)
            citizen.outstanding = None
        answer = next_answer(text)
        if answer is None or citizen.done or citizen.failed:
            return
        if answer == DONE:
            citizen.done = True
            stats.completed += 1
            return
        if citizen.turns >= MAX_TURNS or citizen.ready:
            return
        citizen.next_text = answer
        citizen.ready = True
        self.ready.append(citizen)

    # -- sending ---------------------------------------------------------------------------
    def _pick(self) -> Citizen:
        while self.ready:
            citizen = self.ready.popleft()
            if citizen.ready and not citizen.done and citizen.outstanding is None:
                return citizen
        variant, channel, prefix = next(self._variants)
        citizen = new_citizen(variant, channel, prefix)
        self.citizens[citizen.key] = citizen
        return citizen

    def _build(self, citizen: Citizen) -> SimulatedRequest:
        adapter = self.adapters[citizen.channel]
        return adapter.simulate(  # type: ignore[attr-defined]
            citizen.sender, citizen.next_text, message_id=_provider_message_id(citizen.channel)
        )

    async def _send(self, citizen: Citizen) -> None:
        stats = self.stats
        assert stats is not None and self._session is not None
        if citizen.turns == 0:
            stats.first_messages += 1
        else:
            stats.answers += 1
        request = self._build(citizen)
        citizen.ready = False
        citizen.turns += 1
        path = self.path_override or request.path
        self._inflight += 1
        stats.sent += 1
        started = time.time()
        citizen.outstanding = started
        try:
            async with self._session.request(
                request.method, self.base_url + path, headers=dict(request.headers), data=request.body
            ) as response:
                await response.read()
                code = str(response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            stats.exceptions[type(exc).__name__] += 1
            citizen.failed = True
            citizen.outstanding = None
            return
        finally:
            self._inflight -= 1
        done = time.time()
        stats.statuses[code] += 1
        stats.ack_latencies.append(done - started)
        stats.ack_times.append(done)
        if code.startswith("2"):
            stats.acked_ok += 1
        else:
            citizen.failed = True
            citizen.outstanding = None

    # -- phases ----------------------------------------------------------------------------
    async def fixed_rate(self, rate: float, duration: float) -> None:
        """Open loop: message i leaves at start + i/rate, for ``duration`` seconds at most."""
        assert self.stats is not None
        total = int(rate * duration)
        start = time.monotonic()
        tasks: set[asyncio.Task[None]] = set()
        for i in range(total):
            planned = start + i / rate
            now = time.monotonic()
            if planned > now:
                await asyncio.sleep(planned - now)
            else:
                self.stats.schedule_lag_max = max(self.stats.schedule_lag_max, now - planned)
            if time.monotonic() - start > duration + 5:
                break  # hopelessly behind: stop rather than run on
            if self._inflight >= self.max_inflight:
                self.stats.overload_skips += 1
                continue
            task = asyncio.create_task(self._send(self._pick()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=35)

    async def closed_loop(self, concurrency: int, duration: float, max_messages: int) -> None:
        """``concurrency`` senders back to back until ``duration`` or ``max_messages``."""
        assert self.stats is not None
        deadline = time.monotonic() + duration
        budget = itertools.count()

        async def sender() -> None:
            while time.monotonic() < deadline and next(budget) < max_messages:
                await self._send(self._pick())

        await asyncio.gather(*(sender() for _ in range(concurrency)))

    async def wait_replies(self, timeout: float, is_done: Callable[[], bool] | None = None) -> None:
        """Wait until no sent message lacks its reply (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            outstanding = sum(1 for c in self.citizens.values() if c.outstanding is not None)
            if outstanding == 0 and (is_done is None or is_done()):
                return
            await asyncio.sleep(0.25)

    async def run_phase(
        self,
        name: str,
        body: Callable[[Driver], Any],
        *,
        expect_replies: bool,
        reply_timeout: float = 30.0,
        after: Callable[[], bool] | None = None,
        after_timeout: float = 0.0,
    ) -> PhaseStats:
        """Run one phase with fresh citizens and a fresh connection pool."""
        self.citizens = {}
        self.ready.clear()
        self.stats = PhaseStats(name)
        self._loop = asyncio.get_running_loop()
        pump = None
        if expect_replies and self._replies is not None:
            self._stop_pump.clear()
            pump = threading.Thread(target=self._pump, name="bench-replies", daemon=True)
            pump.start()
        connector = aiohttp.TCPConnector(limit=self.max_inflight, limit_per_host=self.max_inflight)
        timeout = aiohttp.ClientTimeout(total=30)
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
                self._session = session
                await body(self)
                self.stats.send_ended = time.time()
                if expect_replies:
                    await self.wait_replies(reply_timeout)
                if after is not None:
                    deadline = time.monotonic() + after_timeout
                    while time.monotonic() < deadline and not after():
                        await asyncio.sleep(0.5)
        finally:
            self._session = None
            if pump is not None:
                self._stop_pump.set()
                pump.join(timeout=2)
        self.stats.no_reply = sum(1 for c in self.citizens.values() if c.outstanding is not None)
        self.stats.ended = time.time()
        return self.stats
