"""A minimal, production-like Django project serving django-oauth-toolkit for bench/peers/run.sh.

PostgreSQL on 127.0.0.1:5432 (database from DOT_DB_NAME, created and dropped by run.sh),
DEBUG=False, persistent database connections (CONN_MAX_AGE), no sessions, admin or templates:
only DOT's /o/token/ and /o/introspect/ are used.
"""
import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "bench-only-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "oauth2_provider",
    "peerproject",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "peerproject.urls"
WSGI_APPLICATION = "peerproject.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("DOT_DB_NAME", "tessera_bench_dot"),
        "USER": os.environ.get("DOT_DB_USER", "postgres"),
        "HOST": os.environ.get("DOT_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("DOT_DB_PORT", "5432"),
        # One connection per worker, kept across requests (what a production deployment sets).
        "CONN_MAX_AGE": 600,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

# Django's default password hashers: PBKDF2-SHA256 first. DOT (2.x and later) hashes client
# secrets with it unless an application has hash_client_secret=False.
OAUTH2_PROVIDER = {
    "SCOPES": {"read": "Read", "introspection": "Introspect tokens"},
    "DEFAULT_SCOPES": ["read"],
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
