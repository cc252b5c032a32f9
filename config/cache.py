"""A database cache whose `incr` is atomic, for rate limits without Redis.

Django's DatabaseCache implements `incr` as get-then-set, so two processes counting the same
login attempt can both read 4 and both write 5. Rate limits must count every attempt, so here the
read and the write happen in one transaction holding the row: `SELECT … FOR UPDATE` on
PostgreSQL, and on SQLite the IMMEDIATE transaction mode (settings) takes the write lock first.
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

from django.core.cache.backends.db import DatabaseCache
from django.db import connections, router, transaction
from django.utils import timezone


class AtomicDatabaseCache(DatabaseCache):
    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        key = self.make_and_validate_key(key, version=version)
        db = router.db_for_write(self.cache_model_class)
        connection = connections[db]
        # BaseDatabaseCache sets _table; the stubs do not know it.
        table = connection.ops.quote_name(self._table)  # type: ignore[attr-defined]
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        now = connection.ops.adapt_datetimefield_value(timezone.now().replace(microsecond=0))
        with transaction.atomic(using=db), connection.cursor() as cursor:
            cursor.execute(
                f"SELECT value FROM {table} WHERE cache_key = %s AND expires > %s{lock}",  # noqa: S608
                [key, now],
            )
            row = cursor.fetchone()
            if row is None:
                raise ValueError(f"Key '{key}' not found")
            # The cache table only holds what this process pickled itself.
            current = pickle.loads(base64.b64decode(row[0].encode()))  # noqa: S301
            new_value = current + delta
            stored = base64.b64encode(pickle.dumps(new_value, pickle.HIGHEST_PROTOCOL)).decode()
            cursor.execute(
                f"UPDATE {table} SET value = %s WHERE cache_key = %s",  # noqa: S608
                [stored, key],
            )
        return int(new_value)
