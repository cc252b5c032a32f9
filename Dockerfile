# Outpost: one image for the web server and the worker (the command decides: web | worker |
# migrate). Build the wheelhouse first, on a Linux x86_64 host with the repository:
#
#   make wheelhouse                       # build/wheelhouse/: locked wheels + requirements.txt
#   docker build -t outpost .             # default base: the pinned python slim image
#
# Without a registry (air-gapped, or CI here), build a base from Debian's packages and pass it:
#
#   docker build --network none -t outpost \
#     --build-arg BASE_IMAGE="$(scripts/build-base-image)" --build-arg INSTALL_SYSTEM_PACKAGES=false .
#
# Nothing inside the build reaches a package index: Python packages come from the wheelhouse
# (`--no-index`, hashes checked against uv.lock), system packages from the base image or apt.
# See docs/deployment.md.

# python:3.11-slim-bookworm, pinned by digest (refresh: docker buildx imagetools inspect python:3.11-slim-bookworm).
ARG BASE_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# --- base: the interpreter and WeasyPrint's libraries (pango, harfbuzz, fonts) --------------
FROM ${BASE_IMAGE} AS base
# false when the base image already has them (scripts/build-base-image), so no apt at build time.
ARG INSTALL_SYSTEM_PACKAGES=true
RUN if [ "$INSTALL_SYSTEM_PACKAGES" = "true" ]; then \
      apt-get update \
      && apt-get install -y --no-install-recommends \
           libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 libjpeg62-turbo \
           fonts-dejavu-core ca-certificates tzdata \
      && rm -rf /var/lib/apt/lists/*; \
    fi
ENV LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/outpost/venv \
    PATH=/opt/outpost/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# --- build: the locked virtualenv, byte-compiled code, collected static files ----------------
FROM base AS build
COPY build/wheelhouse/ /wheels/
RUN python3 -m venv /opt/outpost/venv \
    && pip install --no-index --find-links /wheels --require-hashes --only-binary=:all: \
         -r /wheels/requirements.txt \
    && pip uninstall --yes pip
COPY . /app
WORKDIR /app
# The build-time SECRET_KEY exists only for this command: settings refuse to import in
# production without one; it is not in ENV and never reaches the runtime image.
RUN rm -rf /app/build \
    && ENVIRONMENT=production OUTPOST_VAR_DIR=/tmp/outpost-build STATIC_ROOT=/app/staticfiles \
       SECRET_KEY=collectstatic-only-build-time-value-never-used-at-runtime-0123456789 \
       python manage.py collectstatic --noinput --verbosity 0 \
    && rm -rf /tmp/outpost-build \
    && python -m compileall -q -j 0 /app

# --- runtime: no compiler, no pip, a non-root user ---------------------------------------------
FROM base AS runtime
ARG OUTPOST_UID=10001
# The python slim image ships a system pip; nothing installs packages at run time.
RUN (python3 -m pip uninstall --yes --quiet pip setuptools wheel 2>/dev/null || true) \
    && groupadd --system --gid "$OUTPOST_UID" outpost \
    && useradd --system --uid "$OUTPOST_UID" --gid outpost --home-dir /var/lib/outpost \
         --no-create-home --shell /usr/sbin/nologin outpost \
    && mkdir -p /var/lib/outpost \
    && chown outpost:outpost /var/lib/outpost
COPY --from=build /opt/outpost/venv /opt/outpost/venv
COPY --from=build /app /app
WORKDIR /app
ENV ENVIRONMENT=production \
    PYTHONDONTWRITEBYTECODE=1 \
    OUTPOST_VAR_DIR=/var/lib/outpost \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000
USER outpost
VOLUME ["/var/lib/outpost"]
EXPOSE 8000
# web: GET /health answers with the database and broker up; worker: its cluster heart-beats.
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "/app/scripts/container-healthcheck"]
ENTRYPOINT ["/app/scripts/container-entrypoint"]
CMD ["web"]
