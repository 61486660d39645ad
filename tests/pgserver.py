"""The private PostgreSQL server of ``bench.pgserver`` for the tests that stop and start their
database; a test skips where none can be run here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from bench.pgserver import PrivatePostgres, Unavailable

__all__ = ["PrivatePostgres", "private_postgres"]


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    try:
        server = PrivatePostgres()
    except Unavailable as exc:
        pytest.skip(str(exc))
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.close()
