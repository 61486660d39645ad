"""What every scenario shares: processes on loopback, signed requests, load loops, statistics
and the /proc readings (CPU, RSS) that back the figures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import yaml
from slack_sdk.signature import SignatureVerifier

# The same test identities as tests/harness.py.
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token-0123456789"
ACCESSKEY = "vb_test_accesskey_secret_42"
WEBHOOK_SECRET = "test-webhook-secret"
TEAM = "T0001"

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Ten of our numbers, each routed to its own channel (the first one is the default).
NUMBERS = [f"+3120123456{n}" for n in range(10)]
CHANNELS = [f"C0BENCH{n:03d}" for n in range(10)]


def peer(n: int) -> str:
    """A distinct, valid Dutch mobile number for ``n`` below 10,000,000."""
    return f"+316{10_000_000 + n:08d}"


# -- statistics ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (pos - low))


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": float(len(ms)),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else float("nan"),
    }


# -- /proc -----------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (0 when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    """VmRSS (or VmHWM) of a process from /proc/PID/status, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, from /proc/stat."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in parts[:8]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values)
    return (total - idle) / CLK_TCK, total / CLK_TCK


class CpuMeter:
    """CPU used by some processes (and the machine) between ``start()`` and ``stop()``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)
        self._before: dict[str, float] = {}
        self._machine: tuple[float, float] = (0.0, 0.0)
        self._wall = 0.0
        self.result: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    def start(self) -> None:
        self._before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._machine = machine_busy()
        self._wall = time.monotonic()

    def stop(self, extra: dict[str, float] | None = None) -> dict[str, float]:
        wall = max(1e-9, time.monotonic() - self._wall)
        busy, total = machine_busy()
        self.seconds = {
            name: cpu_seconds(pid) - self._before[name] for name, pid in self.pids.items()
        }
        out = {f"cpu_{name}_cores": used / wall for name, used in self.seconds.items()}
        for name, seconds in (extra or {}).items():
            out[f"cpu_{name}_cores"] = seconds / wall
        ncpu = os.cpu_count() or 1
        out["cpu_machine_cores"] = (
            ncpu * (busy - self._machine[0]) / max(1e-9, total - self._machine[1])
        )
        self.result = out
        return out


# -- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    drop = ("SLACK_", "VOIPBIN_", "DATABASE_URL", "SMS_BRIDGE_", "HTTP_PROXY", "HTTPS_PROXY")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(drop)}
    env.pop("ALL_PROXY", None)
    env.pop("all_proxy", None)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


class Proc:
    """A server subprocess on 127.0.0.1 that answers GET ``ready_path`` when it is up."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str],
        port: int,
        log_path: Path,
        ready_path: str = "/healthz",
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.ready_path = ready_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> Proc:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=log, cwd=str(ROOT)
            )
        return self

    async def wait_ready(self, within: float = 60.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(trust_env=False) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.process.returncode}; "
                        f"see {self.log_path}:\n{self.tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    response = await client.get(self.url + self.ready_path, timeout=1)
                    if response.status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not become ready; see {self.log_path}")
                await asyncio.sleep(0.05)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0, *, signalled: bool = False) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        if not signalled:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def write_config(
    path: Path,
    *,
    routes: int = 1,
    pacing: bool = False,
    per_second: float = 1.0,
    burst: int = 3,
    jobs: dict[str, Any] | None = None,
) -> Path:
    """An app.yaml for the bench: ``routes`` numbers each with its own channel, Slack pacing
    off unless asked for, and a short job poll interval."""
    config = {
        "region": "NL",
        "numbers": [{"number": NUMBERS[i], "channel": CHANNELS[i]} for i in range(min(routes, 10))],
        "slack": {"enabled": pacing, "per_channel_per_second": per_second, "burst": burst},
        "jobs": {"poll_interval_seconds": 0.05, **(jobs or {})},
        # The daily quotas would refuse a benchmark's volume; they are not what is measured.
        "policy": {"daily_segments_per_user": None, "daily_segments_total": None},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@dataclass
class Fakes:
    """FakeSlack and FakeVoipbin, in a process of their own (bench.fakehost), so their
    threads neither share the load generator's GIL nor the service's."""

    proc: subprocess.Popen[bytes]
    slack_url: str
    slack_base: str
    voipbin_url: str
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(trust_env=False))

    async def _call(self, url: str, body: dict[str, Any] | None) -> Any:
        if body is None:
            response = await self.http.get(url, timeout=30)
        else:
            response = await self.http.post(url, json=body, timeout=30)
        response.raise_for_status()
        return response.json()

    async def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """A control route of the fake Slack (GET, or POST of ``body``)."""
        return await self._call(self.slack_base + path, body)

    async def posts(self, since: int = 0) -> list[dict[str, Any]]:
        """Every chat.postMessage call (answered or refused) with the fake's arrival time."""
        found: list[dict[str, Any]] = (await self.control(f"/_fake/bench/posts?since={since}"))[
            "posts"
        ]
        return found

    async def stats(self) -> dict[str, int]:
        found: dict[str, int] = await self.control("/_fake/bench/stats")
        return found

    async def voipbin_control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """A control route of the fake VoIPbin (GET, or POST of ``body``)."""
        return await self._call(self.voipbin_url.removesuffix("/v1.0") + path, body)

    async def voipbin_requests(self) -> list[dict[str, Any]]:
        """Every request the fake VoIPbin answered, in order, with its arrival time (``at``,
        ``time.monotonic()``) and the status it was answered (``answered_status``)."""
        found: list[dict[str, Any]] = (await self.voipbin_control("/_fake/requests"))["requests"]
        return found

    async def set_rate_limit(self, per_second: float, burst: int) -> None:
        await self.control("/_fake/bench/rate_limit", {"per_second": per_second, "burst": burst})

    async def close(self) -> None:
        await self.http.aclose()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _spawn(argv: list[str], log_path: Path, *, stdout: Any = None) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            env=_clean_env(),
            stdout=log if stdout is None else stdout,
            stderr=log,
            cwd=str(ROOT),
        )


@contextlib.asynccontextmanager
async def fakes(workdir: Path) -> AsyncIterator[Fakes]:
    argv = [sys.executable, "-m", "bench.fakehost"]
    proc = _spawn(argv, workdir / "fakes.log", stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), timeout=30)
    if not line:
        proc.wait()
        raise RuntimeError(f"bench.fakehost did not start; see {workdir / 'fakes.log'}")
    urls = json.loads(line)
    found = Fakes(
        proc=proc,
        slack_url=urls["slack_url"],
        slack_base=urls["slack_base"],
        voipbin_url=urls["voipbin_url"],
    )
    try:
        yield found
    finally:
        await found.close()


def service(
    name: str,
    workdir: Path,
    fake: Fakes,
    *,
    database_url: str,
    config_path: Path,
    log_level: str = "INFO",
    command: str = "serve",
    args: Sequence[str] = (),
) -> Proc:
    """``python -m bot.cli serve`` on a free loopback port (not started yet); ``args`` are
    more options (``--no-jobs``). ``command="worker"``: ``sms-bridge worker``, its health
    routes on that port."""
    port = free_port()
    env = _clean_env() | {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.slack_url,
        "VOIPBIN_ACCESSKEY": ACCESSKEY,
        "VOIPBIN_API_URL": fake.voipbin_url,
        "VOIPBIN_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": database_url,
        "LOG_LEVEL": log_level,
    }
    # SMS_BRIDGE_BENCH_SERVE runs another entry point (a .py file or a module) in place of
    # bot.cli, to measure a candidate fix without touching bot/.
    entry = os.environ.get("SMS_BRIDGE_BENCH_SERVE", "bot.cli")
    argv = [sys.executable, entry] if entry.endswith(".py") else [sys.executable, "-m", entry]
    argv += [command, "--config", str(config_path), *args]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    return Proc(name, argv, env=env, port=port, log_path=workdir / f"{name}.log")


def baseline(name: str, kind: str, workdir: Path, fake: Fakes) -> Proc:
    """A bare app of ``bench.baselines`` (``bolt`` or ``hmac``) on the same server stack."""
    port = free_port()
    env = _clean_env() | {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.slack_url,
        "VOIPBIN_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    argv = [sys.executable, "-m", "bench.baselines", kind, "--port", str(port)]
    return Proc(name, argv, env=env, port=port, log_path=workdir / f"{name}.log")


def stop_all(procs: Iterable[Proc], timeout: float = 20.0) -> None:
    """SIGTERM to all, then wait for each (SIGKILL after ``timeout``)."""
    running = [p for p in procs if p.process is not None and p.process.poll() is None]
    for proc in running:
        assert proc.process is not None
        proc.process.send_signal(signal.SIGTERM)
    for proc in running:
        proc.stop(timeout, signalled=True)


async def start_all(procs: Iterable[Proc]) -> None:
    started = [p.start() for p in procs]
    await asyncio.gather(*(p.wait_ready() for p in started))


# -- requests --------------------------------------------------------------------------------


def slack_headers(body: str) -> dict[str, str]:
    """Signed as Slack signs (slack_sdk's SignatureVerifier, as tests/harness.py does)."""
    ts = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=ts, body=body)
    return {
        "x-slack-request-timestamp": ts,
        "x-slack-signature": signature,
        "content-type": "application/x-www-form-urlencoded",
    }


def slash_request(text: str, *, channel: str, user: str, n: int) -> tuple[str, dict[str, str]]:
    body = urlencode(
        {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "acme",
            "channel_id": channel,
            "channel_name": "support",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/sms",
            "text": text,
            "api_app_id": "A0001",
            "response_url": f"http://127.0.0.1:9/response/{n}",
            "trigger_id": f"{n}.2.3",
        }
    )
    return body, slack_headers(body)


class Inbound:
    """Builds signed ``message_created`` deliveries as VoIPbin sends them (the fake's
    message shape, ``FakeVoipbin.event`` for the body, ``sign`` for X-VoIPBIN-Signature)."""

    def __init__(self) -> None:
        from bot.fakes.voipbin import FakeVoipbin

        self._fake = FakeVoipbin(accesskey=ACCESSKEY, webhook_secret=WEBHOOK_SECRET)
        self._event = FakeVoipbin.event

    def build(self, source: str, our_number: str, text: str) -> tuple[bytes, dict[str, str]]:
        message = self._fake.inbound(source, our_number, text)
        body = self._event("message_created", message)
        headers = {"content-type": "application/json", "x-voipbin-signature": self._fake.sign(body)}
        return body, headers


@dataclass
class LoadResult:
    latencies: list[float]  # seconds, answered requests only
    statuses: list[int]  # 0 for a transport error
    elapsed: float
    ok: int
    sent: int
    stopped_early: bool


Request = tuple[str, bytes | str, dict[str, str]]  # path, body, headers


def encode(path: str, body: bytes | str, headers: dict[str, str]) -> bytes:
    """A POST as HTTP/1.1 bytes, ready to write on a kept-alive connection."""
    data = body.encode() if isinstance(body, str) else body
    head = [f"POST {path} HTTP/1.1", "host: 127.0.0.1", f"content-length: {len(data)}"]
    head += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "content-length"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


class RawConnection:
    """A minimal HTTP/1.1 keep-alive client over asyncio streams, for load.

    httpx costs about 2 ms of CPU per request on this kind of machine (measured: ~375
    requests/s from a whole core against a bare endpoint), which on 2 cores would measure the
    load generator rather than the service; this costs about 0.1 ms. It speaks only what the
    load needs: POST with Content-Length, answers with Content-Length (uvicorn's)."""

    # uvicorn closes a kept-alive connection after 5 s without a request.
    IDLE_LIMIT = 3.0

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_used = 0.0

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._writer is not None and time.monotonic() - self._last_used > self.IDLE_LIMIT:
            self.close()
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self._reader, self._writer

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        """Send one encoded request; (status, body). Raises OSError / IncompleteReadError."""
        reused = self._writer is not None
        try:
            return await self._send(raw)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            partial = isinstance(exc, asyncio.IncompleteReadError) and bool(exc.partial)
            if not reused or partial:
                raise
        # A kept-alive connection the server had closed before reading: send again on a new one.
        return await self._send(raw)

    async def _send(self, raw: bytes) -> tuple[int, bytes]:
        reader, writer = await self._connect()
        try:
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            length = 0
            close = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                lowered = name.strip().lower()
                if lowered == b"content-length":
                    length = int(value)
                elif lowered == b"connection" and value.strip().lower() == b"close":
                    close = True
            body = await reader.readexactly(length) if length else b""
        except BaseException:
            self.close()
            raise
        self._last_used = time.monotonic()
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def aclose(self) -> None:
        self.close()


class HttpxConnection:
    """The same interface on httpx.AsyncClient (``--client httpx``)."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self._client = httpx.AsyncClient(trust_env=False, timeout=30)

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        path = lines[0].split(" ")[1]
        headers = dict(line.split(": ", 1) for line in lines[1:])
        headers.pop("content-length", None)
        headers.pop("host", None)
        try:
            response = await self._client.post(self.base + path, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise OSError(str(exc)) from exc
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self._client.aclose()


# "raw" (default) or "httpx": what the load generator speaks (python -m bench --client).
LOAD_CLIENT = {"kind": "raw"}


def connection(port: int) -> RawConnection | HttpxConnection:
    if LOAD_CLIENT["kind"] == "httpx":
        return HttpxConnection(port)
    return RawConnection(port)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


async def closed_loop(
    targets: Sequence[str],
    requests: Sequence[Request],
    *,
    concurrency: int,
    max_seconds: float,
    ok: Callable[[int, bytes], bool] = lambda status, _: status == 200,
    think: Callable[[], float] | None = None,
) -> LoadResult:
    """``concurrency`` workers, each on its own kept-alive connection, send the next request
    as soon as their last is answered, until ``requests`` run out or ``max_seconds`` pass.
    Worker ``i`` talks to ``targets[i % len(targets)]``. Requests are encoded beforehand.
    With ``think``, a worker is a person: it waits ``think()`` seconds after each answer
    (and a random part of one such wait before its first request, so that the workers do
    not start in step)."""
    encoded = [encode(*r) for r in requests]
    queue = iter(encoded)
    latencies: list[float] = []
    statuses: list[int] = []
    good = 0
    sent = 0
    stopped = False
    start = time.perf_counter()
    deadline = start + max_seconds

    async def worker(index: int) -> None:
        nonlocal good, sent, stopped
        conn = connection(port_of(targets[index % len(targets)]))
        try:
            if think is not None:
                await asyncio.sleep(random.uniform(0, think()))
            for raw in queue:
                if time.perf_counter() > deadline:
                    stopped = True
                    return
                sent += 1
                began = time.perf_counter()
                try:
                    status, body = await conn.send(raw)
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                    statuses.append(0)
                    continue
                latencies.append(time.perf_counter() - began)
                statuses.append(status)
                if ok(status, body):
                    good += 1
                if think is not None:
                    await asyncio.sleep(think())
        finally:
            await conn.aclose()

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return LoadResult(
        latencies=latencies,
        statuses=statuses,
        elapsed=time.perf_counter() - start,
        ok=good,
        sent=sent,
        stopped_early=stopped,
    )


class Sender:
    """Open-loop sends (each on a connection of a small pool), for the latency scenarios."""

    def __init__(self, url: str, *, timeout: float = 15.0) -> None:
        self.port = port_of(url)
        self.timeout = timeout
        self._idle: list[RawConnection | HttpxConnection] = []

    async def post(self, request: Request) -> int:
        raw = encode(*request)
        conn = self._idle.pop() if self._idle else connection(self.port)
        try:
            # A service killed in the middle of an answer must not hold the sender for ever.
            status, _ = await asyncio.wait_for(conn.send(raw), timeout=self.timeout)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError, TimeoutError):
            await conn.aclose()
            return 0
        self._idle.append(conn)
        return status

    async def aclose(self) -> None:
        for conn in self._idle:
            await conn.aclose()
        self._idle.clear()


async def gather_limited(limit: int, coros: Iterable[Awaitable[Any]]) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def one(coro: Awaitable[Any]) -> Any:
        async with semaphore:
            return await coro

    return await asyncio.gather(*(one(c) for c in coros))


# -- profiling (optional) --------------------------------------------------------------------


class Profiler:
    """``py-spy record`` on a process for the length of a block, when ``--profile DIR`` is
    given and py-spy is installed; raw collapsed stacks land in DIR."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        exe = Path(sys.executable).parent / "py-spy"
        self.exe = str(exe) if exe.exists() else None

    def _spawn(self, pid: int, out: Path) -> subprocess.Popen[bytes]:
        assert self.exe is not None
        # --gil: only samples of the thread holding the GIL, i.e. where Python spends CPU.
        argv = [self.exe, "record", "--gil", "-p", str(pid), "-r", "200", "-f", "raw"]
        return subprocess.Popen(
            [*argv, "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    @contextlib.asynccontextmanager
    async def record(self, pid: int, name: str) -> AsyncIterator[None]:
        if self.directory is None or self.exe is None:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        out = self.directory / f"{name}.txt"
        proc = self._spawn(pid, out)
        await asyncio.sleep(0.5)
        try:
            yield
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                proc.kill()
