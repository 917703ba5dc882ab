# lapor-gateway: one image for the web server, the job worker and the migration step.
# Build: docker build -t lapor-gateway .   Run: see compose.yaml and docs/operations.md.
# No secrets in here: every setting comes from the environment at run time.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LAPOR_DATA_DIR=/var/lib/lapor \
    PORT=8000

# The processes run as an unprivileged user; only the data directory is theirs to write.
RUN groupadd --system --gid 10001 lapor \
    && useradd --system --uid 10001 --gid lapor --home-dir /var/lib/lapor --shell /usr/sbin/nologin lapor \
    && mkdir -p /var/lib/lapor \
    && chown lapor:lapor /var/lib/lapor

WORKDIR /app
COPY pyproject.toml README.md ./
COPY adapters ./adapters
COPY conversations ./conversations
COPY config ./config
COPY gateway ./gateway
# Wheels only (no C compiler in the image): the embedded Redis extra is not installed here,
# the image talks to a real Redis through REDIS_URL.
RUN pip install --no-cache-dir --only-binary=:all: --no-binary=lapor-gateway .

USER 10001:10001
VOLUME ["/var/lib/lapor"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["lapor-gateway", "web"]
