"""gunicorn entry point: `gunicorn wsgi:app`."""
from evently import create_app

app = create_app()
