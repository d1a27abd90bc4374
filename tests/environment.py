"""pytest plugin loaded before Django's settings (`-p tests.environment` in pyproject).

It gives the test run safe defaults that the process environment has not set: tests talk
plain HTTP to the test client and live server, so no HTTPS redirect; email goes to memory.
CI's services (DATABASE_URL, CELERY_BROKER_URL, REDIS_URL) pass through unchanged.
"""

import os
import tempfile

os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)
# A run-private folder for the SQLite database, the filesystem broker and media files.
os.environ.setdefault("GROUNDSWELL_VAR_DIR", tempfile.mkdtemp(prefix="groundswell-test-"))
os.makedirs(os.path.join(os.environ["GROUNDSWELL_VAR_DIR"], "staticfiles"), exist_ok=True)
os.environ.setdefault("WHITENOISE_USE_FINDERS", "true")
