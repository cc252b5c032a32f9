"""Fixtures for deployment tests: a fresh, empty PostgreSQL database per test (created with
psycopg beside the test database, dropped afterwards), and free loopback ports."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _admin_dsn(dbname: str) -> dict[str, object]:
    db = connection.settings_dict
    return {
        "dbname": dbname,
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or None,
        "host": db.get("HOST") or "127.0.0.1",
        "port": int(db.get("PORT") or 5432),
        "autocommit": True,
    }


def database_url(name: str) -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"


@pytest.fixture
def empty_postgres_database(require_postgres: None) -> Iterator[str]:
    """The name of a new, empty database on the test server; dropped (connections ended) after."""
    name = f"outpost_deploy_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**_admin_dsn("postgres")) as admin:  # type: ignore[arg-type]
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(**_admin_dsn("postgres")) as admin:  # type: ignore[arg-type]
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def connect(name: str) -> psycopg.Connection:
    return psycopg.connect(**_admin_dsn(name))  # type: ignore[arg-type]
