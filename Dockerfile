# Envelope: one image for web, worker, beat and migrations (see docker-compose.yml).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ENVELOPE_DATA_DIR=/var/lib/envelope

RUN useradd --system --create-home --home-dir /var/lib/envelope --shell /usr/sbin/nologin envelope

WORKDIR /app
COPY pyproject.toml README.md ./
COPY envelope ./envelope
COPY web ./web
COPY worker ./worker
COPY migrations ./migrations
RUN pip install .

USER envelope
EXPOSE 8080
# The same command as the Procfile's web process.
CMD ["gunicorn", "--bind", "0.0.0.0:8080", "--reuse-port", "--workers", "2", "--worker-class", "gthread", \
     "--threads", "8", "--graceful-timeout", "10", "--no-control-socket", "web.wsgi:app"]
