"""Groundswell settings: one module, every deployment difference comes from the environment.

With no environment at all this is the *embedded default* (SQLite file, a filesystem Celery
broker, our Stripe stand-in on localhost, console email). Production sets DEBUG=False plus the
values in the README's configuration table; `manage.py check --deploy` then reports nothing.
"""

from email.utils import parseaddr
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("GROUNDSWELL_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# The fallback key only exists so that management commands work out of the box; check
# --deploy flags it (security.W009) so no production deployment can keep it unnoticed.
SECRET_KEY = env.str(
    "SECRET_KEY", default="django-insecure-groundswell-development-key-do-not-use-in-production"
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_object_actions",
    "rest_framework",
    "allauth",
    "allauth.account",
    # Two-factor (TOTP, recovery codes) for staff who move money (members/two_factor.py).
    "allauth.mfa",
    "pgtrigger",
    "core",
    "members",
    "campaigns",
    "pledges",
    "payments",
    "ledger",
    "payouts",
    "community",
    "demo",  # the top floor: it may import every app listed above; none imports it
]

MIDDLEWARE = [
    "core.middleware.ApiErrorMiddleware",  # first: it sees every /api/ response, errors too
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # After auth, messages and allauth: staff who can move money need a code for the admin.
    "members.middleware.AdminTwoFactorMiddleware",
    "core.middleware.ContentSecurityPolicyMiddleware",
    "core.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'groundswell.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: WAL lets readers and one writer work at once, and
    # IMMEDIATE transactions make writers queue instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
# Persistent connections (SQLite too: opening one per request contends under load).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Rate limits and card-testing blocks live here, so every process must share it: Redis in
# production (CACHE_URL=rediscache://...); a file cache in var/ in the embedded default, which
# the web processes and the worker share. A per-process cache (locmem, dummy) gets a warning
# from `check --deploy` (core.checks). The file cache culls random entries past MAX_ENTRIES,
# so it gets room for far more counters than a community site has at once.
CACHES = {"default": env.cache_url("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}
if CACHES["default"]["BACKEND"].endswith(".FileBasedCache"):
    CACHES["default"].setdefault("OPTIONS", {}).setdefault("MAX_ENTRIES", 10_000)

# --- Members and authentication -------------------------------------------------------------
AUTH_USER_MODEL = "members.Member"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_SIGNUP_FORM_CLASS = "members.forms.SignupProfileForm"
# allauth's forms with the site's sentence-case labels ("Remember me", "Current password").
ACCOUNT_FORMS = {
    "login": "members.account_forms.LoginForm",
    "change_password": "members.account_forms.ChangePasswordForm",
    "reset_password_from_key": "members.account_forms.ResetPasswordKeyForm",
}
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Groundswell] "
# allauth's emails go through the outbox (members.adapter).
ACCOUNT_ADAPTER = "members.adapter.AccountAdapter"
ACCOUNT_PREVENT_ENUMERATION = True
# allauth's limits, kept in the cache (Redis in production so all web processes share them).
ACCOUNT_RATE_LIMITS = {
    "login_failed": env.str("LOGIN_FAILED_RATE_LIMIT", default="10/m/ip,5/5m/key"),
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
# Two-factor (allauth.mfa): an authenticator app (TOTP) and recovery codes, asked at login once
# enrolled; staff who approve payouts or refund pledges must enrol to use the admin
# (members.two_factor). A code is accepted one 30-second step either side of ours (clock drift).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Groundswell"
MFA_TOTP_TOLERANCE = 1

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
# Dates read day-month-year ("3 Mar 2026, 14:05") wherever no explicit format is given: the
# admin, and {{ value|date }} without an argument. Django 5 always localizes, so DATE_FORMAT
# and friends in settings are ignored for "en" (its US formats win); config/formats/en/ replaces
# only the display formats and keeps Django's input formats, so no form parses differently.
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Brussels")
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# core.media serves uploads (with safe headers); false when a proxy or object storage does.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
if env.bool("WHITENOISE_USE_FINDERS", default=False):
    WHITENOISE_USE_FINDERS = True
    STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"

# --- Email ----------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# An SMTP server that hangs must not hold an email task until its time limit.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Groundswell <hello@groundswell.local>")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# Who is emailed the traceback of a server error (Django's mail_admins handler, active when
# DEBUG is off): "Ops <ops@example.org>, dev@example.org". Empty: errors are only logged.
ADMINS = [
    (name or address, address)
    for name, address in (parseaddr(item) for item in env.list("ADMINS", default=[]))
    if address
]

# --- Security -------------------------------------------------------------------------------
# Production runs behind a TLS-terminating proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many reverse proxies append to X-Forwarded-For in front of us (core.http.client_ip).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Scripts only from ourselves and the configured Stripe.js origin (the stand-in in development).
CONTENT_SECURITY_POLICY_EXTRA_ORIGINS = env.list("CSP_EXTRA_ORIGINS", default=[])

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_FILESYSTEM_FOLDER = VAR_DIR / "celery-broker"
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Redis for what all processes of a deployment share beyond the cache: the charge rate
# ceiling (core.ratelimit). Empty: a file in VAR_DIR, shared by the processes of one machine.
REDIS_URL = env.str("REDIS_URL", default="")
# Namespaces our idempotency keys at Stripe (core.install); empty: an id made once per database.
INSTALL_ID = env.str("INSTALL_ID", default="")

# --- Stripe (our Stripe stand-in on localhost by default; real test keys work unchanged) -----
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="sk_test_groundswell_standin")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="pk_test_groundswell_standin")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="http://localhost:8420")
STRIPE_JS_URL = env.str("STRIPE_JS_URL", default="http://localhost:8420/js.stripe.com/v3/")
# The stand-in signs with the secret it was started with (bin/dev passes this one).
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="whsec_groundswell_dev")
# The Connect endpoint's own secret (connected accounts' events such as account.updated, at
# /payments/stripe/connect-webhook/; bin/dev starts the stand-in with it).
STRIPE_CONNECT_WEBHOOK_SECRET = env.str(
    "STRIPE_CONNECT_WEBHOOK_SECRET", default="whsec_groundswell_connect_dev"
)

# --- Deadline settlement (pledges.settlement, pledges.reconciliation) ------------------------
SETTLEMENT_SWEEP_SECONDS = env.float("SETTLEMENT_SWEEP_SECONDS", default=60)
# Charges per second across every charge worker (Stripe allows 25/s in test mode; ~80 live).
CHARGE_RATE_PER_SECOND = env.float("CHARGE_RATE_PER_SECOND", default=20)
CHARGE_RATE_WAIT_SECONDS = env.float("CHARGE_RATE_WAIT_SECONDS", default=30)
# A charge task sent this long ago whose pledge is still waiting is taken as lost and re-sent.
CHARGE_REDISPATCH_SECONDS = env.float("CHARGE_REDISPATCH_SECONDS", default=300)
# An attempt left created/sent/unknown this long is reconciled with the provider.
CHARGE_RECONCILE_AFTER_SECONDS = env.float("CHARGE_RECONCILE_AFTER_SECONDS", default=60)
# Resending with the same key is safe while Stripe keeps it (24 h); we stop an hour early.
CHARGE_IDEMPOTENCY_WINDOW_HOURS = env.float("CHARGE_IDEMPOTENCY_WINDOW_HOURS", default=23)
# An empty search at the provider proves nothing was charged only after its search lag (up to
# a minute) and the longest a worker can still be sending (the task time limit, 300 s).
CHARGE_ASSUME_LOST_AFTER_SECONDS = env.float("CHARGE_ASSUME_LOST_AFTER_SECONDS", default=420)
CHARGE_RETRY_INTERVAL_HOURS = env.float("CHARGE_RETRY_INTERVAL_HOURS", default=48)
CHARGE_FIX_WINDOW_DAYS = env.float("CHARGE_FIX_WINDOW_DAYS", default=7)
# Only for a charge whose provider reports no fee (shown as an estimate): 1.5 % + €0.25.
PROCESSOR_FEE_ESTIMATE_PERCENT = env.str("PROCESSOR_FEE_ESTIMATE_PERCENT", default="1.5")
PROCESSOR_FEE_ESTIMATE_FIXED_MINOR = env.int("PROCESSOR_FEE_ESTIMATE_FIXED_MINOR", default=25)
# The fee schedule (ledger/fees.py): the platform keeps this percentage of each contribution.
PLATFORM_FEE_PERCENT = env.str("PLATFORM_FEE_PERCENT", default="5")
# Payouts (payouts/): supporters can raise concerns about a request for this long before it
# may be approved; the country of organizers' Connect accounts; how long a transfer attempt
# may stay quiet before the sweep tries it again (with the same idempotency key).
PAYOUT_REVIEW_WINDOW_HOURS = env.float("PAYOUT_REVIEW_WINDOW_HOURS", default=48)
PAYOUT_ACCOUNT_COUNTRY = env.str("PAYOUT_ACCOUNT_COUNTRY", default="BE")
PAYOUT_TRANSFER_RESEND_SECONDS = env.int("PAYOUT_TRANSFER_RESEND_SECONDS", default=120)
PAYOUT_SWEEP_SECONDS = env.int("PAYOUT_SWEEP_SECONDS", default=60)
# Supporters' concerns on payout requests (payouts/concerns.py): at most this many per member
# an hour, across all requests.
PAYOUT_CONCERNS_PER_HOUR = env.int("PAYOUT_CONCERNS_PER_HOUR", default=5)

# The account's statement descriptor prefix (set in Stripe's dashboard); each campaign adds a
# suffix from its title within Stripe's 22 characters for both
# (Campaign.statement_descriptor_suffix).
STRIPE_STATEMENT_DESCRIPTOR_PREFIX = env.str(
    "STRIPE_STATEMENT_DESCRIPTOR_PREFIX", default="GROUNDSWELL"
)

# --- Money limits (integer minor units) -----------------------------------------------------
MIN_PLEDGE_MINOR = env.int("MIN_PLEDGE_MINOR", default=100)
MAX_PLEDGE_MINOR = env.int("MAX_PLEDGE_MINOR", default=10_000_00)
MAX_GOAL_MINOR = env.int("MAX_GOAL_MINOR", default=1_000_000_00)

# --- Card-testing defence (pledges.throttle) ------------------------------------------------
PLEDGE_FAILURES_BEFORE_BLOCK = env.int("PLEDGE_FAILURES_BEFORE_BLOCK", default=5)
PLEDGE_ATTEMPTS_PER_HOUR_MEMBER = env.int("PLEDGE_ATTEMPTS_PER_HOUR_MEMBER", default=20)
# Higher: a community hall or office shares one address.
PLEDGE_ATTEMPTS_PER_HOUR_IP = env.int("PLEDGE_ATTEMPTS_PER_HOUR_IP", default=100)
# An IP is blocked only when card failures come from this many members (card testers rotate
# accounts; one member's failures block that member, not their whole network or proxy).
PLEDGE_IP_BLOCK_MIN_MEMBERS = env.int("PLEDGE_IP_BLOCK_MIN_MEMBERS", default=3)

# --- REST framework -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.JSONParser"],  # JSON only; other media types: 415
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "stripe": {"level": "WARNING"}},
}

# --- community (updates, comments, follows, notifications, embeds) --------------------------
# A member may post this many comments a minute and an hour (community.comments).
COMMENTS_PER_MINUTE = env.int("COMMENTS_PER_MINUTE", default=5)
COMMENTS_PER_HOUR = env.int("COMMENTS_PER_HOUR", default=40)
COMMENTS_PER_PAGE = env.int("COMMENTS_PER_PAGE", default=20)
# Reports a member may file an hour.
REPORTS_PER_HOUR = env.int("REPORTS_PER_HOUR", default=20)
# How often beat runs the follower sweep (launch emails, the 48-hour reminder, updates that
# turned public) and how long before the deadline the reminder goes.
COMMUNITY_SWEEP_SECONDS = env.int("COMMUNITY_SWEEP_SECONDS", default=60)
DEADLINE_REMINDER_HOURS = env.int("DEADLINE_REMINDER_HOURS", default=48)
# An unsubscribe link older than this is refused (and says so); a new email brings a new one.
COMMUNITY_UNSUBSCRIBE_MAX_AGE_DAYS = env.int("COMMUNITY_UNSUBSCRIBE_MAX_AGE_DAYS", default=365)
