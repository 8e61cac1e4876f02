# probe in a container: the daemon (`probe run`) on a campaign folder mounted at /data.
#   docker build -t probe .
#   docker run --rm -v "$PWD/my-campaign:/data" probe validate /data/campaign.toml
#   docker run -d --name probe -v "$PWD/my-campaign:/data" \
#       -e PROBE_SMTP_PASSWORD -e PROBE_IMAP_PASSWORD probe run /data/campaign.toml
#   docker run --rm probe demo

# Build stage: the wheel, with migrations, templates and config.example.toml force-included.
FROM python:3.11-slim AS builder
WORKDIR /src
RUN pip install --no-cache-dir build==1.6.1
COPY pyproject.toml README.md LICENSE config.example.toml ./
COPY probe ./probe
COPY migrations ./migrations
COPY templates ./templates
RUN python -m build --wheel --outdir /dist

# Runtime stage: only the installed wheel, run as an unprivileged user.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=builder /dist/ /tmp/dist/
# tzdata comes from PyPI (a dependency), so the slim image needs no system package for time zones.
RUN pip install --no-cache-dir /tmp/dist/probe-*.whl \
    && rm -rf /tmp/dist \
    && useradd --no-log-init --create-home --uid 10001 --user-group probe \
    && mkdir /data \
    && chown probe:probe /data
USER 10001:10001
# The campaign folder: campaign.toml, targets.csv, templates/ and the SQLite database (sqlite:///probe.db).
WORKDIR /data
VOLUME ["/data"]
# Unhealthy when the daemon's last pass is older than 3 x tick_every (probe status --health exits 1).
HEALTHCHECK --interval=5m --timeout=30s --start-period=2m --retries=3 \
    CMD ["probe", "status", "/data/campaign.toml", "--health"]
ENTRYPOINT ["probe"]
CMD ["run", "/data/campaign.toml"]
