"""Settings read from the environment: what an operator's compose file or unit may pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_empty_database_url_means_the_embedded_sqlite_database(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": "",
        "OUTPOST_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    done = subprocess.run(
        [
            sys.executable, "-c",
            "import django; django.setup(); from django.conf import settings; "
            "db = settings.DATABASES['default']; print(db['ENGINE'], db['NAME'])",
        ],
        cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    engine, name = done.stdout.split()[-2:]
    assert engine == "django.db.backends.sqlite3"
    assert name == str(tmp_path / "outpost.sqlite3")
