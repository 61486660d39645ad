"""An oversized body is answered 413 every time, never by a reset connection: a sender that
gets a transport error instead of the 413 retries, and would keep retrying a body that can
never be accepted (issue 18, finding 15). Driven against ``sms-bridge serve`` as a process,
as operators run it (uvloop and httptools, which the in-process test server does not use)."""

from __future__ import annotations

import asyncio
import select
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from bot.fakes.slack import FakeSlack
from bot.fakes.voipbin import FakeVoipbin

from harness import CHANNEL, OUR_NUMBER, ServiceProcess

_MIB = 1024 * 1024
_BODY = b'{"type": "message_created", "data": {"text": "' + b"x" * (3 * _MIB) + b'"}}'


@pytest.fixture
async def service(
    tmp_path: Path, fake_slack: FakeSlack, fake_voipbin: FakeVoipbin, sqlite_url: str
) -> AsyncIterator[ServiceProcess]:
    config = tmp_path / "app.yaml"
    config.write_text(
        yaml.safe_dump({"region": "NL", "numbers": [{"number": OUR_NUMBER, "channel": CHANNEL}]})
    )
    process = ServiceProcess(
        slack=fake_slack,
        voipbin=fake_voipbin,
        database_url=sqlite_url,
        config_path=str(config),
        log_path=str(tmp_path / "service.log"),
    )
    process.start()
    try:
        await process.wait_ready()
        yield process
    finally:
        process.terminate()


def _post(port: int, head: bytes, chunks: list[bytes]) -> str:
    """One request on a fresh connection, written whole, then the status line read. A server
    that closes before it has read the body makes the kernel reset the connection: the sender's
    write fails (EPIPE) and, when the reset overtakes the answer, the 413 is lost too. Either
    way the sender sees a transport error and retries."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(head)
            for chunk in chunks:
                sock.sendall(chunk)
            answer = sock.recv(65536)
        except OSError as error:
            return type(error).__name__
        return answer.split(b"\r\n", 1)[0].decode() or "closed without an answer"


@pytest.mark.parametrize("connection", ["keep-alive", "close"])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_3_mib_webhook_is_answered_413_every_time(
    service: ServiceProcess, fake_voipbin: FakeVoipbin, framing: str, connection: str
) -> None:
    head = (
        "POST /voipbin/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Connection: {connection}\r\n"
        f"X-VoIPBIN-Signature: {fake_voipbin.sign(_BODY)}\r\n"
    )
    pieces = [_BODY[i : i + 65536] for i in range(0, len(_BODY), 65536)]
    if framing == "chunked":
        head += "Transfer-Encoding: chunked\r\n\r\n"
        chunks = [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]
    else:
        head += f"Content-Length: {len(_BODY)}\r\n\r\n"
        chunks = pieces
    port = int(service.url.rsplit(":", 1)[1])
    answers = [await asyncio.to_thread(_post, port, head.encode(), chunks) for _ in range(10)]
    assert answers == ["HTTP/1.1 413 Request Entity Too Large"] * 10
    assert fake_voipbin.sends() == []


def _declared_only(port: int, head: bytes, sent: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + sent)
        return sock.recv(65536).split(b"\r\n", 1)[0].decode()


async def test_a_body_declared_beyond_what_is_drained_is_answered_at_once(
    service: ServiceProcess, fake_voipbin: FakeVoipbin
) -> None:
    # 1 GiB declared, 1 MiB sent: the 413 comes without waiting for (or reading) the rest
    head = (
        "POST /voipbin/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {1024 * _MIB}\r\n\r\n"
    ).encode()
    port = int(service.url.rsplit(":", 1)[1])
    answer = await asyncio.to_thread(_declared_only, port, head, b"x" * _MIB)
    assert answer == "HTTP/1.1 413 Request Entity Too Large"
    assert fake_voipbin.sends() == []


def _endless(port: int, head: bytes, most: int) -> tuple[int, str]:
    """A chunked body that does not end, written until the server answers or cuts the
    connection (or ``most`` bytes): how much was written by then, and the status line."""
    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(head)
            while sent < most:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(chunk)
                sent += len(chunk)
            answer = sock.recv(65536)
        except OSError as error:
            return sent, type(error).__name__
    return sent, answer.split(b"\r\n", 1)[0].decode() or "closed without an answer"


async def test_a_body_that_never_ends_is_not_read_for_ever(
    service: ServiceProcess, fake_voipbin: FakeVoipbin
) -> None:
    # The drain before a 413 has a cap (16 MiB): past it the sender is answered (or cut off)
    # and the server reads no more, however long the sender would go on.
    head = (
        b"POST /voipbin/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    port = int(service.url.rsplit(":", 1)[1])
    sent, answer = await asyncio.to_thread(_endless, port, head, 96 * _MIB)
    assert sent < 40 * _MIB, f"{sent / _MIB:.0f} MiB read by the server ({answer})"
    assert answer in (
        "HTTP/1.1 413 Request Entity Too Large",
        "ConnectionResetError",
        "BrokenPipeError",
    )
    assert fake_voipbin.sends() == []
