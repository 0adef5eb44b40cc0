FROM python:3.11-slim

# The commit the image is built from, shown by /metrics (build_info):
#   docker build --build-arg GIT_COMMIT=$(git rev-parse HEAD) -t user-groups-service .
ARG GIT_COMMIT=unknown
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 GIT_COMMIT=${GIT_COMMIT}
WORKDIR /app

COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
RUN pip install -c constraints.txt . \
    && useradd --create-home --uid 10001 service \
    && mkdir -p /app/data && chown service /app/data
COPY alembic.ini ./
COPY migrations ./migrations

# The embedded SQLite database (DATABASE_URL's default, data/user_groups.db) lives here; mount a
# volume so it outlives the container. With PostgreSQL (DATABASE_URL=postgresql://...) it stays empty.
VOLUME ["/app/data"]

USER service
ENV WEB_CONCURRENCY=4 PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz')"
# Migrations first (the only source of the schema), then the server with several workers.
# `python -m` from /app runs the source tree beside alembic.ini and migrations/; so do the
# commands run inside the container (README, "Docker").
CMD ["sh", "-c", "python -m app.cli migrate && exec python -m app.cli serve --host 0.0.0.0 --port \"$PORT\" --workers \"$WEB_CONCURRENCY\""]
