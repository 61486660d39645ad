"""The exit statuses of every ``sms-bridge`` command, in one place (the README's table)."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """What a non-zero status means, so a script or an orchestrator can tell them apart."""

    OK = 0
    # A check found a problem (``check``'s FAIL findings; ``jobs retry`` of a job not dead).
    FAILED = 1
    # The configuration or the command line is wrong (argparse's own status for usage, too).
    CONFIG = 2
    # The database was upgraded by a newer sms-bridge.
    SCHEMA_TOO_NEW = 3
    # A dependency cannot be reached or used: the database is down, missing or read-only.
    UNREACHABLE = 4
    # The port to listen on is taken or not allowed.
    CANNOT_LISTEN = 5
