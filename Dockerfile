# The Amorce image used by compose.yaml for web, worker, beat and migrate.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A Unicode font for the charter's PDF export.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY webapp ./webapp
COPY workers ./workers
COPY forms ./forms
COPY email_templates ./email_templates
RUN pip install . \
    && useradd --system --create-home --uid 10001 amorce \
    && mkdir -p /var/lib/amorce \
    && chown amorce:amorce /var/lib/amorce

USER amorce
ENV AMORCE_INSTANCE_PATH=/var/lib/amorce
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "webapp.wsgi:app"]
