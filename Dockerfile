# The hotline's image: a regular (non-editable) install of a wheel built from this tree,
# run as an unprivileged user. Its migrations travel in the wheel (<prefix>/share/hotline).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY app ./app
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
# The code stays root-owned and read-only to the service; only its state directory
# (spool, worker heartbeat, multi-process metrics) belongs to the `hotline` user.
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/hotline --create-home hotline \
    && mkdir -p /var/lib/hotline/spool /var/lib/hotline/metrics \
    && chown -R hotline:hotline /var/lib/hotline
USER hotline
WORKDIR /var/lib/hotline
ENV PYTHONUNBUFFERED=1 \
    HOTLINE_SPOOL_DIR=/var/lib/hotline/spool \
    HOTLINE_WORKER_HEARTBEAT=/var/lib/hotline/worker.heartbeat
EXPOSE 8000
# Ready = serving and the database answers (/readyz). The worker's container replaces this
# with `hotline worker --health` (docker-compose.yml).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["hotline", "serve", "--host", "0.0.0.0", "--port", "8000"]
