# syntax=docker/dockerfile:1
# Multi-stage: build a wheel, then install it into a virtualenv in a slim runtime image.
# The manifests use ghcr.io/volc-rtc-exporter/volc-rtc-exporter:<version> (CONTRIBUTING.md):
#   docker build --build-arg VERSION=0.2.0 -t ghcr.io/volc-rtc-exporter/volc-rtc-exporter:0.2.0 .
# (add --build-arg REVISION=$(git rev-parse --short=12 HEAD) to show the revision in build_info)
# Secrets come in at run time (VOLCENGINE_SECRET_KEY or credentials.secret_access_key_file),
# never as build arguments.

FROM python:3.12-slim-bookworm AS build
# the source revision shown by --version and volcengine_rtc_exporter_build_info
ARG REVISION=unknown
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY exporter ./exporter
RUN echo "${REVISION}" > exporter/REVISION \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim-bookworm
ARG VERSION=0.2.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="volc-rtc-exporter" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.description="Prometheus exporter for Volcengine / BytePlus RTC quality and operations data" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/volc-rtc-exporter/volc-rtc-exporter" \
      org.opencontainers.image.documentation="https://github.com/volc-rtc-exporter/volc-rtc-exporter#readme"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

COPY --from=build /wheels /tmp/wheels
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin exporter

# no write access needed anywhere: runs with a read-only root filesystem
USER 10001:10001
# 9877: /metrics and the landing page; 9878: the event-callback receiver (docs/callbacks.md), when
# --callbacks.listen-address=:9878 is given
EXPOSE 9877 9878
# plain HTTP; with --web.config.file (TLS, basic auth) override it, as deploy/compose does
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9877/-/healthy', timeout=4)"]
ENTRYPOINT ["volc-rtc-exporter"]
CMD ["--config.file=/etc/volc-rtc-exporter/config.yml"]
