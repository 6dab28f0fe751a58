# One image for every service: `lienthong serve <intake|routing|sla|notify>`.
#   docker build -t lienthong:dev .
#   docker run --rm -p 8001:8001 -e LIENTHONG_DATABASE_URL=... -e LIENTHONG_KAFKA_BOOTSTRAP_SERVERS=... \
#       lienthong:dev serve intake
# Settings come from LIENTHONG_* variables (shared/settings.py); docker-compose.yml sets them.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    LIENTHONG_HOST=0.0.0.0

RUN groupadd --system --gid 10001 lienthong \
    && useradd --system --uid 10001 --gid lienthong --home-dir /app --create-home \
        --shell /usr/sbin/nologin lienthong

# The source is only needed to build and install the package (see .dockerignore for what is left out).
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir . \
    && rm -rf build ./*.egg-info

# Run from a directory of our own, so that the installed package is what gets imported; as the
# numeric id of user lienthong, so that "run as non-root" policies can verify it.
WORKDIR /app
USER 10001:10001

EXPOSE 8001 8002 8003 8004

# Alive check with the standard library (slim has no curl). The port is the one the service listens
# on, resolved by its own settings class: LIENTHONG_PORT, LIENTHONG_<SERVICE>_PORT, or the
# service's default; the service is the one named after `serve` in PID 1's command line.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; from services.registry import SERVICES; argv = open('/proc/1/cmdline', 'rb').read().decode().split(chr(0)); port = SERVICES[argv[argv.index('serve') + 1]].settings_type()().listen_port; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]

ENTRYPOINT ["lienthong"]
CMD ["--help"]
