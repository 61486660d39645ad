"""Issue 18, finding 6: a port that is no port is a usage error, and a taken port is said
before anything says "started", with its own exit status (the real CLI, as a subprocess)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot.exit_codes import Exit

from harness import write_config
from operator_cli import assert_said, operator_env, sms_bridge

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("port", ["99999", "0", "-1", "http"])
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_port_that_is_no_port_is_refused_by_the_parser(
    command: str, port: str, tmp_path: Path
) -> None:
    env = operator_env(DATABASE_URL=f"sqlite:///{tmp_path}/bridge.db")
    ran = sms_bridge([command, "--config", write_config(tmp_path), f"--port={port}"], env=env)
    assert_said(ran, Exit.CONFIG, "--port", f"'{port}' is not a TCP port (1-65535)")
    assert not (tmp_path / "bridge.db").exists()


def test_serve_on_a_taken_port_says_so_before_it_starts(tmp_path: Path) -> None:
    env = operator_env(DATABASE_URL=f"sqlite:///{tmp_path}/bridge.db")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        args = ["serve", "--config", write_config(tmp_path), "--host", "127.0.0.1"]
        ran = sms_bridge([*args, "--port", str(port)], env=env)
    assert_said(ran, Exit.CANNOT_LISTEN, f"cannot listen on 127.0.0.1:{port}", "--port")
    assert "started" not in ran.text
