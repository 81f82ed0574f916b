"""The statements a block sends on an asyncpg connection, as the application wrote them: asyncpg's own reading
of a new statement's types (once per type and connection) is left out, with the `jit` setting it turns off and
back on around that reading when the server has JIT enabled."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from asyncpg.connection import LoggedQuery

_ASYNCPG_OWN = ("pg_type", "set_config('jit'")


@contextmanager
def statements_sent(connection: asyncpg.Connection) -> Iterator[list[str]]:
    sent: list[str] = []

    def log(record: LoggedQuery) -> None:
        if not any(marker in record.query for marker in _ASYNCPG_OWN):
            sent.append(record.query)

    connection.add_query_logger(log)
    try:
        yield sent
    finally:
        connection.remove_query_logger(log)
