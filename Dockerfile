# One image for every Evently process: the API (default command), the Celery
# worker, beat and Flower (docker-compose.yml gives each its command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 evently \
    && useradd --system --uid 10001 --gid evently --home-dir /app --shell /usr/sbin/nologin evently

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=evently:evently . .

USER evently
ENV FLASK_APP=wsgi \
    HOST=0.0.0.0 \
    PORT=5000
EXPOSE 5000 5555 5556 5557

# Create the database if missing, migrate, make sure the first admin exists, serve.
CMD ["sh", "-c", "python -m evently.dbsetup && flask db upgrade && flask ensure-admin && exec gunicorn --config gunicorn.conf.py wsgi:app"]
