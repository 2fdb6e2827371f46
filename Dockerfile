# The portal's container image. Build: docker build -t audit-portal .
# One image for every role: the web portal (default command), the schema migration
# (`migrate`, run once per release as a separate job before the new portal starts), and
# collectors (`collect run NAME --push URL`). No secret is baked in: all settings come from the
# environment at run time (see docs/deployment.md).
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/audit-portal
WORKDIR /src
COPY pyproject.toml README.md ./
COPY audit_portal ./audit_portal
COPY collectors ./collectors
COPY evidence_store ./evidence_store
COPY templates ./templates
# A regular (not editable) install: the image holds the built wheel's files only.
RUN /opt/audit-portal/bin/pip install . \
    && /opt/audit-portal/bin/python -m compileall -q /opt/audit-portal

FROM python:3.11-slim-bookworm
# WeasyPrint (PDF reports) needs Pango and a font; pg_dump comes with postgresql-client for
# `audit-portal backup` against PostgreSQL.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 libfontconfig1 fonts-dejavu-core \
        postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /var/lib/audit-portal --no-create-home portal \
    && install -d -o portal -g portal -m 0700 /var/lib/audit-portal
COPY --from=build /opt/audit-portal /opt/audit-portal
# The root filesystem can be mounted read-only: nothing below writes outside the data volume
# and /tmp (bytecode is compiled at build time; caches go to /tmp).
ENV PATH=/opt/audit-portal/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    XDG_CACHE_HOME=/tmp/cache \
    HOME=/var/lib/audit-portal \
    AUDIT_PORTAL_ENVIRONMENT=production \
    AUDIT_PORTAL_DATA_DIR=/var/lib/audit-portal
VOLUME ["/var/lib/audit-portal"]
USER 10001:10001
WORKDIR /var/lib/audit-portal
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["audit-portal"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
