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
# The same command as the Procfile's web process (envelope/processes.py).
CMD ["envelope", "process", "web", "--host", "0.0.0.0", "--port", "8080"]
