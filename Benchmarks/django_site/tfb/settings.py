"""The Django side of the database benchmarks: TechEmpower's four database routes, written as a Django site
writes them (the ORM, a template), on the same tables the reference app uses. Run by gunicorn with DATABASE_HOST
(a socket directory), DATABASE_PORT, DATABASE_NAME and DATABASE_USER set by Benchmarks/harness.py for PostgreSQL,
or DATABASE_PATH for an SQLite file."""
import os

SECRET_KEY = "benchmark-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["tfb"]
MIDDLEWARE = []
ROOT_URLCONF = "tfb.urls"
USE_TZ = False
if "DATABASE_PATH" in os.environ:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DATABASE_PATH"],
                             "CONN_MAX_AGE": None}}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ["DATABASE_HOST"],
            "PORT": os.environ.get("DATABASE_PORT", "5432"),
            "NAME": os.environ["DATABASE_NAME"],
            "USER": os.environ["DATABASE_USER"],
            # Persistent connections, as a production site keeps them.
            "CONN_MAX_AGE": None,
        }
    }
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
