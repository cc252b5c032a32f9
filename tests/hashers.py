"""A test-sized Argon2id: the same algorithm and hash format as production, at a cost that
does not make every user a test creates pay about a second of hashing on a busy machine.
Installed for every test by tests/conftest.py; tests/accounts/test_password_change.py checks
the production hasher and its parameters."""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2idHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 1024  # KiB
    parallelism = 1
