"""The WSGI entry point: `gunicorn -w 2 wsgi:app`, `flask --app wsgi …`."""

from dotenv import load_dotenv

from app import create_app
from app.sync.jobs import start_scheduler

load_dotenv()
app = create_app()
start_scheduler(app)
