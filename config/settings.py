"""Outpost settings, read from environment variables (see README "Configuration")."""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from whitenoise.compress import Compressor

from config.env import (
    artifacts_storage,
    email_settings,
    env_bool,
    env_int,
    env_list,
    env_prefixed,
    env_str,
    load_dotenv_file,
)
from config.logging import build_logging

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv_file(BASE_DIR)

ENVIRONMENT = env_str("ENVIRONMENT", "development").strip().lower()
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured("ENVIRONMENT must be 'development' or 'production'")
IS_PRODUCTION = ENVIRONMENT == "production"

# Runtime state (SQLite database, artifacts, logs) lives outside the code.
VAR_DIR = Path(env_str("OUTPOST_VAR_DIR", str(BASE_DIR / "var"))).resolve()
LOG_DIR = VAR_DIR / "log"
ARTIFACTS_DIR = Path(env_str("OUTPOST_ARTIFACTS_DIR", str(VAR_DIR / "artifacts"))).resolve()
for _folder in (VAR_DIR, LOG_DIR, ARTIFACTS_DIR):
    _folder.mkdir(parents=True, exist_ok=True)

DEFAULT_SECRET_KEY = "dev-only-insecure-secret-key-change-me-outpost-0000000000000000"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET_KEY)
if IS_PRODUCTION and (SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "ENVIRONMENT=production refuses to start without SECRET_KEY set to a random value of "
        "at least 50 characters (python -c 'import secrets; print(secrets.token_urlsafe(64))')"
    )

# DEBUG shows stack traces: never on by default, never in production.
DEBUG = env_bool("DEBUG", False) and not IS_PRODUCTION

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if IS_PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
CORS_ALLOWED_ORIGINS = env_list("CORS_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_q",
    "accounts",
    "targets",
    "workflows",
    "scans.apps.ScansConfig",
    "integrations.apps.IntegrationsConfig",
]
if CORS_ALLOWED_ORIGINS:
    INSTALLED_APPS.append("corsheaders")

MIDDLEWARE = [
    "accounts.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "accounts.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    *(["corsheaders.middleware.CorsMiddleware"] if CORS_ALLOWED_ORIGINS else []),
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.TeamMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.team",
            ],
            "libraries": {"tables": "config.tables"},
        },
    },
]

# --- Database -------------------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "outpost.sqlite3"
# Unset or empty (a compose file passing an empty variable): the embedded SQLite database.
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{SQLITE_PATH}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions take the
    # write lock up front, so two processes never deadlock upgrading a read lock to a write.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # Tests that start real worker processes need a test database those processes can open.
    # One file per test run (pid), so parallel runs on one machine never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-outpost-{os.getpid()}.sqlite3")}
else:
    # One test database per test run (pid), so parallel runs against one server never collide.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A process frozen inside a transaction (SIGSTOP, a stalled VM) must not hold its row locks
    # for ever: the server ends such a session after this long, and the reaper stops waiting
    # for a lock after REAPER_LOCK_TIMEOUT_MS (it skips that step until its next sweep).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c idle_in_transaction_session_timeout={env_int('DB_IDLE_IN_TRANSACTION_TIMEOUT_S', 60) * 1000}"
    )
IS_SQLITE = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Argon2id first: every new or re-hashed password uses it.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Cache and queue ------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
Q_CLUSTER_NAME = env_str("Q_CLUSTER_NAME", "outpost")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": Q_CLUSTER_NAME,
        }
    }
else:
    # Shared by the web and worker processes (rate limits, worker heartbeats), unlike locmem.
    CACHES = {
        "default": {
            "BACKEND": "config.cache.AtomicDatabaseCache",
            "LOCATION": "outpost_cache",
            "KEY_PREFIX": Q_CLUSTER_NAME,
        }
    }

TASK_TIMEOUT_S = env_int("TASK_TIMEOUT_S", 3600)
Q_CLUSTER: dict[str, object] = {
    "name": Q_CLUSTER_NAME,
    "workers": env_int("WORKERS", 2),
    # django-q2 retries are disabled (max_attempts=1): attempts, backoff and timeouts of scan
    # steps live in ScanStep, where they are visible and bounded.
    "timeout": TASK_TIMEOUT_S,
    "retry": TASK_TIMEOUT_S + 300,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 1000,
    "label": "Task queue",
    "poll": 0.5,
    # Tasks a cluster takes from the broker before a worker is free for them (django-q2's
    # default is workers²): whatever a killed worker had taken but not started waits for the
    # reaper's resend (STEP_LOST_QUEUED_AFTER_S), so keep it small. 0 is not allowed: django-q2
    # reads it as "no limit".
    "queue_limit": max(1, env_int("WORKER_PREFETCH", 1)),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Internationalisation and static files --------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
# In development WhiteNoise serves straight from the app folders, so no collectstatic is needed.
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
WHITENOISE_AUTOREFRESH = not IS_PRODUCTION
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if IS_PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Artifacts (raw outputs, imported reports, screenshots, PDF reports; config/artifacts.py): the
# local folder for one host; an S3-compatible bucket when web and workers run on several hosts.
ARTIFACTS_STORAGE = env_str("ARTIFACTS_STORAGE", "local").strip().lower()
STORAGES["artifacts"] = artifacts_storage(ARTIFACTS_STORAGE, ARTIFACTS_DIR)

# --- E-mail ---------------------------------------------------------------------------------
EMAIL_URL = env_str("EMAIL_URL", "console://")
globals().update(email_settings(EMAIL_URL))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Outpost <outpost@localhost>")

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerAuthentication",
        "accounts.authentication.ApiKeyHeaderAuthentication",
        "accounts.authentication.TeamSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.TeamRolePermission"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.jsonbody.BoundedJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "config.schema.OutpostAutoSchema",
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # `?format=` is ours (json|table|csv|sarif on scans), not DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Outpost API",
    "DESCRIPTION": (
        "Authorized scope, scan workflows, scans and findings. Authenticate with "
        "`Authorization: Bearer <API key or JWT>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Views scope their querysets by request.team; the schema's fake request gets team=None.
    "GET_MOCK_REQUEST": "config.schema.build_mock_request",
    # Choice sets that share a field name with another app's (kind, status, event).
    "ENUM_NAME_OVERRIDES": {
        "IntegrationKindEnum": "integrations.models.IntegrationKind",
        "DeliveryStatusEnum": "integrations.models.DeliveryStatus",
        "DeliveryEventEnum": "integrations.models.DeliveryEvent",
        "RuleEventEnum": "integrations.models.RuleEvent",
        "FindingStatusEnum": "scans.models.Finding.Status",
        "TargetKindEnum": "targets.models.TargetKind",
        "ScanStatusEnum": "scans.models.ScanStatus",
        "ScanModeEnum": "scans.models.Scan.Mode",
        "AssetKindEnum": "scans.models.AssetKind",
        "AssetChangeEnum": "scans.models.ScanAsset.Change",
    },
}

# Bodies above this are refused with 413 before anything parses them.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# JSON bodies nested deeper than this are refused with 400 (config.jsonbody): the parser's
# recursion would otherwise end in a RecursionError (a 500) inside the body limit.
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 64)
# Report uploads (scan import) have their own, larger limit.
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 50 * 1024 * 1024)
LARGE_BODY_PATHS = ["/api/v1/scans/import", "/scans/import"]

JWT_LIFETIME_S = env_int("JWT_LIFETIME_S", 15 * 60)
JWT_ISSUER = "outpost"
API_KEY_RESET_TOKEN_LIFETIME_S = 15 * 60
# Client IP: REMOTE_ADDR unless this many trusted proxies append X-Forwarded-For.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# --- Rate limits (django-ratelimit) ---------------------------------------------------------
RATE_LIMIT_ENABLED = env_bool("RATE_LIMIT_ENABLED", True)
RATELIMIT_ENABLE = RATE_LIMIT_ENABLED
RATE_LIMITS = {
    "login": env_str("RATE_LIMIT_LOGIN", "10/m"),
    "register": env_str("RATE_LIMIT_REGISTER", "10/h"),
    "reset": env_str("RATE_LIMIT_RESET", "5/h"),
    "token": env_str("RATE_LIMIT_TOKEN", "30/m"),
    "scan": env_str("RATE_LIMIT_SCAN", "60/m"),
    # Team invitations, per inviting account and address: each one mails someone outside.
    "invite": env_str("RATE_LIMIT_INVITE", "20/h"),
}
SILENCED_SYSTEM_CHECKS = [
    # django-ratelimit only knows memcached and django-redis; Django's own RedisCache increments
    # atomically, and config.cache.AtomicDatabaseCache makes incr atomic inside a transaction.
    "django_ratelimit.E003",
    "django_ratelimit.W001",
]

# --- Scans, executors and tools --------------------------------------------------------------
# auto: the Docker executor when an engine answers (DOCKER_HOST honoured), else the local one.
SCAN_EXECUTOR = env_str("SCAN_EXECUTOR", "auto").strip().lower()
if SCAN_EXECUTOR not in {"auto", "docker", "local"}:
    raise ImproperlyConfigured("SCAN_EXECUTOR must be auto, docker or local")
STEP_DEFAULT_TIMEOUT_S = env_int("STEP_DEFAULT_TIMEOUT_S", 600)
STEP_MAX_TIMEOUT_S = env_int("STEP_MAX_TIMEOUT_S", 3000)  # node configs are capped by this
STEP_MAX_ATTEMPTS = env_int("STEP_MAX_ATTEMPTS", 3)
STEP_HEARTBEAT_S = env_int("STEP_HEARTBEAT_S", 5)
# A running step whose heartbeat is older than this is taken back (its worker died or froze):
# re-queued with a new claim, the old claim fenced off. With the keeper's sweep every
# KEEPER_INTERVAL_S a dead worker's step is running again within about 30 s.
STEP_STALE_AFTER_S = env_int("STEP_STALE_AFTER_S", 20)
# Every worker process runs a keeper thread that sweeps stale and lost steps this often (one
# sweep per interval across the deployment, by a cache lock), besides the every-minute reaper.
KEEPER_INTERVAL_S = env_int("KEEPER_INTERVAL_S", 5)
REAPER_LOCK_TIMEOUT_MS = env_int("REAPER_LOCK_TIMEOUT_MS", 2000)
# Re-queues after a database/broker/Docker engine fault (5 s x 2^n apart, at most 5 min): ~5 min.
STEP_INFRA_RETRIES = env_int("STEP_INFRA_RETRIES", 6)
# The reaper hands a queued step to the broker again when it has waited this long past its due
# time (the broker lost it: a Redis restart without persistence).
# A dead worker's prefetched tasks are lost with it; the claim makes a resent duplicate harmless.
STEP_LOST_QUEUED_AFTER_S = env_int("STEP_LOST_QUEUED_AFTER_S", 45)
# The reaper leaves tool containers younger than this alone (a step claimed while it swept).
REAPER_ORPHAN_MIN_AGE_S = env_int("REAPER_ORPHAN_MIN_AGE_S", 30)
TOOL_OUTPUT_MAX_BYTES = env_int("TOOL_OUTPUT_MAX_BYTES", 50 * 1024 * 1024)
ARTIFACT_RETENTION_DAYS = env_int("ARTIFACT_RETENTION_DAYS", 30)
# Where node types are declared (workflows.nodes): every module of these packages that defines
# NODE/NODES. Strings, so the registry imports no app above workflows.
NODE_PACKAGES = ["scans.tools", "scans.logic", "integrations.nodes"]
# Each tool module names its pinned upstream image and network mode (scans/tools/<tool>.py);
# TOOL_IMAGE_<TOOL> and TOOL_NETWORK_<TOOL> ("none", "bridge", "host") override them per tool.
# Tests build local stand-ins (scripts/build-test-images).
TOOL_IMAGES = env_prefixed("TOOL_IMAGE_", exclude={"TOOL_IMAGE_CACHE_INIT", "TOOL_IMAGE_STAGER"})
TOOL_NETWORK = env_prefixed("TOOL_NETWORK_")
# Tools whose downloads (vulnerability databases) are kept between runs in a Docker volume per
# tool (TOOL_CACHE_VOLUME_PREFIX + tool, at /cache = $XDG_CACHE_HOME; the tool module says
# `caches_downloads`), made writable for the sandbox user once by TOOL_IMAGE_CACHE_INIT (`chown`,
# as root with only CAP_CHOWN).
TOOL_CACHE = env_bool("TOOL_CACHE", True)
TOOL_CACHE_VOLUME_PREFIX = env_str("TOOL_CACHE_VOLUME_PREFIX", "outpost-cache-")
TOOL_IMAGE_CACHE_INIT = env_str("TOOL_IMAGE_CACHE_INIT", "busybox:1.36.1")
# The helper whose containers copy a tool run's input files onto its volume and hand its output
# volume to the sandbox user (scans.engine.executors.staging): no bind mounts by host path.
TOOL_IMAGE_STAGER = env_str("TOOL_IMAGE_STAGER", "busybox:1.36.1")
TOOL_MEMORY_MB = env_int("TOOL_MEMORY_MB", 1024)
TOOL_CPUS = float(env_str("TOOL_CPUS", "1.0"))
TOOL_PIDS_LIMIT = env_int("TOOL_PIDS_LIMIT", 256)
GRYPE_ENABLED = env_bool("GRYPE_ENABLED", False)
# masscan's packets per second: the default of its nodes, and the cap no node may exceed (a fast
# scan floods links and trips intrusion alarms; raise both only where the network owner agrees).
MASSCAN_RATE_PPS = env_int("MASSCAN_RATE_PPS", 1000)
MASSCAN_MAX_RATE_PPS = env_int("MASSCAN_MAX_RATE_PPS", 10000)
# Passive subdomain sources (scans.tools.kit.passive_dns): off until named here, since they send
# the domain to a third party ("crtsh,certspotter"). SUBDOMAIN_PASSIVE_URL_<NAME> points one at a
# mirror or proxy, SUBDOMAIN_PASSIVE_KEY_<NAME> gives its API key.
SUBDOMAIN_PASSIVE_SOURCES = [s.lower() for s in env_list("SUBDOMAIN_PASSIVE_SOURCES")]
SUBDOMAIN_PASSIVE_URLS = env_prefixed("SUBDOMAIN_PASSIVE_URL_")
SUBDOMAIN_PASSIVE_KEYS = env_prefixed("SUBDOMAIN_PASSIVE_KEY_")
# Scope enforced by the network (docs/scope-enforcement.md): off | auto | required. auto sandboxes
# a Docker tool step when the worker can (root or CAP_NET_ADMIN); required refuses to run a tool
# with a network without a sandbox.
SCOPE_ENFORCEMENT = env_str("SCOPE_ENFORCEMENT", "auto").strip().lower()
if SCOPE_ENFORCEMENT not in {"off", "auto", "required"}:
    raise ImproperlyConfigured("SCOPE_ENFORCEMENT must be off, auto or required")
# The sandboxes' links (one /30 each) come from this prefix: pick one no network of yours uses.
# 198.18.0.0/15 is reserved for benchmarking (RFC 2544) and never routed on the internet.
SCOPE_SANDBOX_SUBNET = env_str("SCOPE_SANDBOX_SUBNET", "198.18.0.0/16")
# ...and their IPv6 addresses (a /126 each, in the same slot) from this prefix, when the worker
# routes IPv6 (net.ipv6.conf.all.forwarding=1); empty: the links are IPv4 only. A unique local
# prefix (RFC 4193, never routed on the internet); masqueraded like the IPv4 one.
SCOPE_SANDBOX_SUBNET6 = env_str("SCOPE_SANDBOX_SUBNET6", "fd4f:7574:7073:5eed::/64")
# The holder container a sandbox's namespace belongs to runs `sleep` from this image (empty:
# TOOL_IMAGE_CACHE_INIT, busybox).
SCOPE_SANDBOX_IMAGE = env_str("SCOPE_SANDBOX_IMAGE", "")
# Holders each worker process keeps started for the next sandboxed step (0: start one per step).
SCOPE_SANDBOX_SPARES = env_int("SCOPE_SANDBOX_SPARES", 1)
# Nameservers ("host" or "host:port") the worker resolves sandboxed names with (empty: its own).
SCOPE_DNS_UPSTREAM = env_list("SCOPE_DNS_UPSTREAM", [])
# secret_scan may clone file:// repositories (and plain paths) only when this is on: they read the
# worker's own disk.
SECRET_SCAN_ALLOW_FILE_REPOS = env_bool("SECRET_SCAN_ALLOW_FILE_REPOS", False)

# --- Integrations, notifications and scheduled scans (integrations app) ---------------------
# Fernet key(s) for webhook URLs and signing secrets at rest, comma-separated: the first encrypts,
# all decrypt (rotation: README "Integrations and schedules"). Empty: derived from SECRET_KEY.
INTEGRATIONS_KEY = env_str("INTEGRATIONS_KEY", "")
# Webhook URLs on loopback/private/link-local addresses (SSRF): allowed in development only.
INTEGRATIONS_ALLOW_PRIVATE_URLS = env_bool("INTEGRATIONS_ALLOW_PRIVATE_URLS", not IS_PRODUCTION)
INTEGRATIONS_PROXY = env_str("INTEGRATIONS_PROXY", "")  # outbound HTTP(S) proxy for deliveries
# Slack and Discord messages go only to these hosts (add an enterprise gateway or proxy's name).
INTEGRATIONS_SLACK_HOSTS = env_list(
    "INTEGRATIONS_SLACK_HOSTS", ["hooks.slack.com", "hooks.slack-gov.com"]
)
INTEGRATIONS_DISCORD_HOSTS = env_list(
    "INTEGRATIONS_DISCORD_HOSTS",
    ["discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"],
)
# Links in messages point here.
PUBLIC_URL = env_str("PUBLIC_URL", "http://localhost:8000").rstrip("/")
DELIVERY_TIMEOUT_S = env_int("DELIVERY_TIMEOUT_S", 10)
# Waits after failed attempts 1, 2, …: their count + 1 is the number of attempts.
DELIVERY_RETRY_DELAYS_S = [
    float(d) for d in env_list("DELIVERY_RETRY_DELAYS_S", ["1", "2", "60", "300"])
]
DELIVERY_INLINE_RETRY_MAX_S = 3.0  # shorter waits are slept in the task, longer ones re-enqueue it
DELIVERY_INLINE_BUDGET_S = 15.0  # …while the task has spent less than this
DELIVERY_STALE_S = 120  # a "sending" claim older than this (its worker died) may be taken over

# --- Audit log ------------------------------------------------------------------------------
AUDIT_LOG_PATH = Path(env_str("AUDIT_LOG_PATH", str(LOG_DIR / "requests.ndjson")))
# The NDJSON lines on stdout too (log shippers; Kubernetes), and/or not in the per-host file.
AUDIT_LOG_STDOUT = env_bool("AUDIT_LOG_STDOUT", False)
AUDIT_LOG_FILE = env_bool("AUDIT_LOG_FILE", True)

# --- Security headers -----------------------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
if IS_PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^health$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("BEHIND_TLS_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = build_logging(
    level=env_str("LOG_LEVEL", "INFO"), json=IS_PRODUCTION or not sys.stderr.isatty()
)

# --- Deployment and operations (Dockerfile, /metrics, migrations under a lock) ----------------
# `config` is an app only for its management commands (`migrate_locked`, run by the container
# entrypoint when AUTO_MIGRATE=true): the top-level layout is fixed, and migrating is the
# project's concern, not one domain app's.
INSTALLED_APPS.append("config")
# /metrics is off (404) until one of these is set: a Bearer token, and/or client networks (CIDRs).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS")
for _cidr in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_cidr, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: {_cidr!r} is not an address or network"
        ) from _exc
# Request counts are summed in each process and added to shared cache counters this often.
METRICS_FLUSH_S = float(env_str("METRICS_FLUSH_S", "10"))
# Functions adding the apps' figures to /metrics (config.prometheus.Exposition), by path.
METRICS_COLLECTORS = ["scans.reports.metrics.prometheus_scans"]
MIDDLEWARE.insert(0, "config.prometheus.RequestMetricsMiddleware")
# collectstatic (image build): source maps are for developers with the files at hand; compressing
# them with brotli took most of the build's time, so they are served uncompressed.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
