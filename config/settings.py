"""One settings module for every mode; the environment decides (see .env.example).

With nothing set it is the embedded default: SQLite, Celery tasks run eagerly in
process, graph queries on networkx. DATABASE_URL, CELERY_BROKER_URL and NEO4J_URI
each switch one part to its real service. DJANGO_ENV=production adds the checks
that refuse an unsafe start.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

INSECURE_DEV_KEY = "django-insecure-interlink-development-only-key-never-deploy"


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from exc


ENVIRONMENT = os.environ.get("DJANGO_ENV", "development")
if ENVIRONMENT not in ("development", "production"):
    raise ImproperlyConfigured("DJANGO_ENV must be 'development' or 'production'")
PRODUCTION = ENVIRONMENT == "production"
# Development may turn DEBUG off (it keeps every SQL statement of a long command or a
# worker's life in memory); production never turns it on.
DEBUG = os.environ.get("DJANGO_DEBUG", "" if PRODUCTION else "true").lower() in ("1", "true", "yes")
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DJANGO_DEBUG must be off in production")

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "" if PRODUCTION else INSECURE_DEV_KEY)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")

if PRODUCTION:
    if len(SECRET_KEY) < 50 or SECRET_KEY == INSECURE_DEV_KEY or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set to a random value of at least 50 characters in production"
        )
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must name the host(s) served in production")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "guardian",
    "audit",
    "agencies",
    "intel",
    "sharing",
    "graph",
    "linkchart",
    "cases",
    "targeting",
    "workspace",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if PRODUCTION:
    # Development and tests serve static files through runserver and the live server.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

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
            ],
        },
    },
]

if not os.environ.get("DATABASE_URL"):
    # SQLite creates its file but not the folder, and a fresh clone has no var/ (uploads
    # make their own folders under MEDIA_ROOT; logs go to the console).
    VAR_DIR.mkdir(exist_ok=True)
# A served process keeps its connection for ten minutes, checked before each request: the
# statements PostgreSQL has prepared on it, and the plans it keeps for them (below), go with
# it. Renewed every minute, a connection planned the visibility rule again for each list's
# first dozen requests of the minute, which a server seldom passed.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The visibility conditions make the planner's cost estimates large, which switches on
    # JIT compilation: compiling took longer on every record list than anything it sped up
    # (docs/benchmarks.md, "Record list API").
    # random_page_cost: PostgreSQL's default (4) prices a random read as a disk seek; the
    # tables the API reads live in memory, and at that price the planner read every link in
    # key order to count the few links of one entity, or hashed the whole entity table for
    # the mentions of a page of entities, rather than probing their indexes.
    # max_parallel_workers_per_gather: a statement's parallel workers are processes started
    # for it, on the cores that the other requests, and the other statements' workers, need
    # at the same moment. Under the load test's 55 users they made every kind of request
    # slower (docs/benchmarks.md, section 5); a deployment with cores to spare may allow some.
    parallel_workers = env_int("DATABASE_PARALLEL_WORKERS", 0)
    if not 0 <= parallel_workers <= 1024:
        # PostgreSQL would refuse every connection: an outage, rather than a refusal to start.
        raise ImproperlyConfigured(f"DATABASE_PARALLEL_WORKERS must be 0 to 1024, got {parallel_workers}")
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c jit=off -c random_page_cost=1.1 -c max_parallel_workers_per_gather={parallel_workers}"
    )
    # Parameters bound by the server, and a statement run five times on a connection kept
    # prepared: the visibility rule of an agency receiving under many agreements is a long
    # text, which PostgreSQL took longer to plan on every request than to run. Its texts
    # are kept per agreements in force (sharing/rule_sql.py), so the statements repeat, and
    # PostgreSQL keeps a generic plan only where it costs no more than planning each time.
    DATABASES["default"]["OPTIONS"].update(server_side_binding=True, prepare_threshold=5)
    # Django's backend, reading timestamps with psycopg's compiled loader (core/postgresql).
    DATABASES["default"]["ENGINE"] = "core.postgresql"
else:
    # The columns some indexes include only let PostgreSQL answer reads from the index
    # alone; the embedded database's indexes serve without them, which is all W040 says.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
    # The embedded default serves a page's requests side by side (a link chart reopened asks
    # for its nodes' neighbourhoods at once, each writing its audit event). A transaction
    # takes the write lock as it begins and waits for it, where two that had read and then
    # wrote failed at once with "database is locked"; in WAL mode a read waits for no write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE", timeout=20, init_command="PRAGMA journal_mode=WAL"
    )
if os.environ.get("DATABASE_TEST_NAME"):
    # Lets two test runs share one PostgreSQL server without dropping each other's database.
    DATABASES["default"]["TEST"] = {"NAME": os.environ["DATABASE_TEST_NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "agencies.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTHENTICATION_BACKENDS = [
    # First, so that a locked-out account is refused before its password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
# Back to the sign-in page: Django's own "Logged out" page is the admin's.
LOGOUT_REDIRECT_URL = LOGIN_URL

# Sign-in hardening (docs/architecture.md, "Authentication"): lock-out of failed sign-ins
# (django-axes, on every path that authenticates), second factor (django-otp TOTP, recovery
# codes) for the roles sharing requires it of, expiring API tokens kept as hashes.
INSTALLED_APPS += ["axes", "django_otp", "django_otp.plugins.otp_totp", "django_otp.plugins.otp_static"]
MIDDLEWARE[MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1 : 0] = [
    "django_otp.middleware.OTPMiddleware",
    "agencies.mfa.MfaRequiredMiddleware",
]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AXES_FAILURE_LIMIT = env_int("AUTH_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AUTH_LOCKOUT_MINUTES", 30))
# Comma-separated, each counted on its own ("a+b": per combination). Per username, since a
# targeted account is guessed at from many addresses; per address, against one password
# tried on every account. Behind a shared address, "username,ip_address+username".
AXES_LOCKOUT_PARAMETERS = [
    item.split("+") if "+" in item else item for item in env_list("AUTH_LOCKOUT_BY", "username,ip_address")
]
# Only the connection's address unless a proxy in front is trusted to set a header.
AXES_IPWARE_META_PRECEDENCE_ORDER = [os.environ.get("AUTH_CLIENT_IP_HEADER", "REMOTE_ADDR")]
AXES_LOCKOUT_CALLABLE = "agencies.auth_pages.locked_out"
AXES_VERBOSE = False
API_TOKEN_LIFETIME = timedelta(hours=env_int("API_TOKEN_LIFETIME_HOURS", 12))
OTP_TOTP_ISSUER = "Interlink"
# Wrong codes count towards the lock-out above; django-otp's own back-off would also
# refuse a right code for a while after a wrong one.
OTP_TOTP_THROTTLE_FACTOR = OTP_STATIC_THROTTLE_FACTOR = 0

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "config.static_packages.NpmPackageFinder",
]
# The browser libraries `package.json` pins, served from node_modules as npm/<package>/<path>
# (config/static_packages.py); `make npm-packages` installs them.
NPM_STATIC_FILES = {
    "cytoscape": ["dist/cytoscape.min.js"],
    "layout-base": ["layout-base.js"],
    "cose-base": ["cose-base.js"],
    "cytoscape-fcose": ["cytoscape-fcose.js"],
}
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"

# Celery: without a broker every task runs eagerly in the calling process.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL) or None
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "interlink")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only when it has finished, so a worker killed mid-batch has its
# batch redelivered; tasks are written to be idempotent for that reason.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_BEAT_SCHEDULE: dict = {
    # Displayed agreement statuses follow the clock; access itself never waits for this.
    "agreement-statuses": {"task": "sharing.refresh_agreement_statuses", "schedule": 60.0},
}

# Disclosure requests: hours until an answer is due, by urgency; days an approved grant lasts.
DISCLOSURE_DUE_HOURS = {
    "urgent": env_int("DISCLOSURE_URGENT_HOURS", 8),
    "routine": env_int("DISCLOSURE_ROUTINE_HOURS", 7 * 24),
}
DISCLOSURE_GRANT_DAYS = env_int("DISCLOSURE_GRANT_DAYS", 30)
# How many onward steps a record may travel from its owner (owner -> A -> B -> C is three).
# The choke point's condition grows with it, so it is a bound, not a preference.
ONWARD_MAX_HOPS = env_int("ONWARD_MAX_HOPS", 3)

# Imports (docs/import.md): every reader refuses a file past these limits, naming the row.
IMPORT_MAX_FILE_BYTES = env_int("IMPORT_MAX_FILE_BYTES", 512 * 1024 * 1024)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 1_000_000)
IMPORT_MAX_ROW_BYTES = env_int("IMPORT_MAX_ROW_BYTES", 64 * 1024)
IMPORT_MAX_FIELD_BYTES = env_int("IMPORT_MAX_FIELD_BYTES", 32 * 1024)
IMPORT_MAX_DEPTH = env_int("IMPORT_MAX_DEPTH", 10)
# Rows of an upload on the embedded database, where the import holds the only write lock for
# the whole file and every audited read of the server waits for it (20 s, then fails): the
# file is kept to what imports well within that wait (docs/import.md).
IMPORT_EMBEDDED_MAX_ROWS = env_int("IMPORT_EMBEDDED_MAX_ROWS", 3000)
# Starts of one batch (a worker lost mid-file has its task redelivered) before it is failed.
IMPORT_MAX_ATTEMPTS = env_int("IMPORT_MAX_ATTEMPTS", 3)
# Days the stored file of a failed import is kept (for its uploader to look into), then removed.
IMPORT_FAILED_FILE_RETENTION_DAYS = env_int("IMPORT_FAILED_FILE_RETENTION_DAYS", 30)
# Minutes an uploaded batch may wait to start before its task is taken for lost and sent again.
IMPORT_STALLED_AFTER_MINUTES = env_int("IMPORT_STALLED_AFTER_MINUTES", 10)
# Targeting scores follow what each agency may see: stale ones are queued for scoring.
CELERY_BEAT_SCHEDULE["targeting-stale-scores"] = {"task": "targeting.rescore_stale", "schedule": 60.0}
CELERY_BEAT_SCHEDULE["import-stalled"] = {"task": "intel.resume_stalled_imports", "schedule": 300.0}
CELERY_BEAT_SCHEDULE["import-failed-files"] = {
    "task": "intel.remove_failed_import_files",
    "schedule": 3600.0,
}

# The longest grant a liaison may give on approving a request (the API and the page alike).
DISCLOSURE_GRANT_DAYS_MAX = env_int("DISCLOSURE_GRANT_DAYS_MAX", 365)

# Short-lived shared state (import progress): Redis beside the broker, else this process's memory.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CELERY_BROKER_URL}
    if CELERY_BROKER_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
CACHES["default"]["KEY_PREFIX"] = os.environ.get("CACHE_KEY_PREFIX", "")

# Neo4j: when NEO4J_URI is unset, graph queries run on networkx in process.
NEO4J_URI = os.environ.get("NEO4J_URI", "")
NEO4J_USER = os.environ.get("NEO4J_USER", "neo4j")
NEO4J_PASSWORD = os.environ.get("NEO4J_PASSWORD", "")
NEO4J_DATABASE = os.environ.get("NEO4J_DATABASE", "neo4j")
if NEO4J_URI and not NEO4J_PASSWORD:
    raise ImproperlyConfigured("NEO4J_PASSWORD must be set when NEO4J_URI is set")

HEALTH_CHECK_TIMEOUT = float(os.environ.get("HEALTH_CHECK_TIMEOUT", "2"))

# List endpoints count rows exactly up to here (or as deep as the page asked for).
PAGINATION_COUNT_LIMIT = env_int("PAGINATION_COUNT_LIMIT", 500)
# Lists of entities (the entity list, a search's API and page) count up to here. An entity is
# asked the rule through its mentions, a probe of each of its records, and for an agency
# that sees few records most entities walked are passed over: counting as far as other
# lists do was most of the entity list's time, and a common word's count made search the
# busiest request of a working day. Who lists entities reads the first pages and narrows
# by type or text.
ENTITY_COUNT_LIMIT = env_int("ENTITY_COUNT_LIMIT", 100)
# A search (API or page) whose any statement runs longer than this is stopped and refused
# as too broad (400 naming `q`), not left to hold a worker while it walks every entity.
SEARCH_STATEMENT_SECONDS = float(os.environ.get("SEARCH_STATEMENT_SECONDS", "10"))
# A search's reads answer no sooner than this, so that time does not tell a text only other
# agencies' records hold from one no record holds (intel.selectors.search_time_limited).
SEARCH_MIN_SECONDS = float(os.environ.get("SEARCH_MIN_SECONDS", "0.25"))
# An entity shows its most recent mentions (names, sources) up to this many.
ENTITY_MENTIONS_SHOWN = env_int("ENTITY_MENTIONS_SHOWN", 100)
# The audit chain's head, HMAC-signed with a key kept out of the database, is appended to
# a file every AUDIT_HEAD_EVERY events (and by `verify_audit --publish`), so rows edited
# with every hash recomputed no longer match a published head.
AUDIT_HEAD_EVERY = env_int("AUDIT_HEAD_EVERY", 100)
# Session locks on the embedded default (core.locks): files, freed when their process dies.
LOCK_DIR = Path(os.environ.get("LOCK_DIR") or VAR_DIR / "locks")
AUDIT_HEAD_FILE = Path(os.environ.get("AUDIT_HEAD_FILE") or VAR_DIR / "audit" / "heads.jsonl")
AUDIT_HEAD_KEY = os.environ.get("AUDIT_HEAD_KEY", "" if PRODUCTION else "interlink-dev-audit-head-key")
if PRODUCTION and len(AUDIT_HEAD_KEY) < 32:
    raise ImproperlyConfigured(
        "AUDIT_HEAD_KEY must be a random value of at least 32 characters in production"
    )

# The deepest page a list answers (API and pages); past it, the page is out of range.
PAGINATION_MAX_PAGE = env_int("PAGINATION_MAX_PAGE", 10_000)
# A CSV export holds at most this many records (each one of another agency is audited).
EXPORT_MAX_RECORDS = env_int("EXPORT_MAX_RECORDS", 10_000)
# A bulk release through the API (POST /api/records/release/) touches at most this many
# records; more is refused, asking for narrower filters (each release is audited per record).
RELEASE_BULK_MAX_RECORDS = env_int("RELEASE_BULK_MAX_RECORDS", 10_000)
# Entities one hit/no-hit question of a link chart names (POST /api/discovery/holdings/); a
# larger chart asks in several.
DISCOVERY_HOLDINGS_MAX_ENTITIES = env_int("DISCOVERY_HOLDINGS_MAX_ENTITIES", 200)
# Entities a case's saved chart holds (the chart stays responsive at 2,000).
CASE_MAX_NODES = env_int("CASE_MAX_NODES", 5_000)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First, so that a refused token answers 401 with `WWW-Authenticate: Token`.
        "agencies.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.exceptions.exception_handler",
    "DEFAULT_METADATA_CLASS": "core.query_parameters.RefusingMetadata",
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
}
# Nesting of a JSON request body (the outermost array or object is level 1); deeper is a 400.
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 20)
SPECTACULAR_SETTINGS = {
    "TITLE": "Interlink API",
    "DESCRIPTION": "Interagency intelligence sharing with graph analytics for customs enforcement.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "EntityTypeEnum": "intel.models.EntityType",
        "LinkTypeEnum": "intel.models.LinkType",
        "ClassificationEnum": "intel.models.Classification",
        "PurposeEnum": "intel.models.Purpose",
        "CategoryEnum": "intel.models.Category",
        "CaseStatusEnum": "cases.models.Case.Status",
    },
}

GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"neo4j": {"level": "WARNING"}},
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    CSRF_TRUSTED_ORIGINS = [f"https://{host}" for host in ALLOWED_HOSTS if host != "*"]

# Headers and exposure. A strict Content Security Policy (django-csp) on every response:
# scripts, styles, images, fonts and requests from this origin only, nothing inline, no
# eval, no plugins, no framing; a page needing more moves its code to static/ instead.
# Every authenticated response is `Cache-Control: no-store` (config/middleware.py).
# Swagger UI comes from this project's static files (drf-spectacular-sidecar), and the
# schema and docs need a signed-in user. The browsable API is off: its templates rely on
# inline styles, and Swagger UI is the in-browser view of the API.
INSTALLED_APPS += ["csp", "drf_spectacular_sidecar"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware"
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "config.middleware.NoStoreWhenAuthenticated",
)
MIDDLEWARE.append("config.middleware.BusyDatabaseIsUnavailable")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Swagger UI draws its icons as data: images; images cannot run code.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = ["rest_framework.renderers.JSONRenderer"]
SPECTACULAR_SETTINGS.update(
    {
        "SWAGGER_UI_DIST": "SIDECAR",
        "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
        "REDOC_DIST": "SIDECAR",
        "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
        # Swagger UI would send the schema's address to a public validator (and the CSP refuse it).
        "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    }
)

# Graph sync (graph/): the outbox drained to Neo4j by Celery, see docs/architecture.md "Graph".
# Records per batch, seconds one drain task runs before handing over to a fresh one, and
# how often beat drains (a safety net: commits queue a drain themselves) and looks for
# visibility changed by the clock (grants expiring, agreements starting or ending).
GRAPH_SYNC_BATCH_SIZE = env_int("GRAPH_SYNC_BATCH_SIZE", 2000)
GRAPH_SYNC_TASK_SECONDS = env_int("GRAPH_SYNC_TASK_SECONDS", 60)
# Drains working at once on a backlog of more than one batch (each on its own batches);
# more than the worker's processes would only wait for one.
GRAPH_SYNC_DRAINS = env_int("GRAPH_SYNC_DRAINS", 2)
GRAPH_SYNC_BEAT_SECONDS = float(os.environ.get("GRAPH_SYNC_BEAT_SECONDS") or 5)
# A stored analytics result (or score) is current only while the sync follows: once a change
# has waited this long and a batch failed on it or none was synced meanwhile (Neo4j down),
# what an agency may see can have changed without its basis moving. Above the sync's own lag
# goal for an agreement's records (docs/benchmarks.md).
GRAPH_SYNC_STALLED_SECONDS = env_int("GRAPH_SYNC_STALLED_SECONDS", 120)
# Analytics jobs an agency may have queued or running at once (each reads its whole graph),
# and how long a queued one waits before it is taken for lost and queued again.
ANALYTICS_JOBS_PER_AGENCY = env_int("ANALYTICS_JOBS_PER_AGENCY", 4)
ANALYTICS_REQUEUE_SECONDS = env_int("ANALYTICS_REQUEUE_SECONDS", 900)
# Who may see what: the agreement rule, asked by intel through intel/access.py.
ACCESS_POLICY = "sharing.access.AgreementPolicy"
# Who may release records and under which agreements, asked by intel's import through intel/releasing.py.
RELEASE_SERVICE = "sharing.releases.ImportReleases"
GRAPH_VISIBILITY_WATCHERS = [
    "sharing.access.records_with_grants_expired",
    "sharing.access.records_of_agreements_starting_or_ending",
]
CELERY_BEAT_SCHEDULE.update(
    {
        "graph-drain-outbox": {
            "task": "graph.drain_outbox",
            "schedule": GRAPH_SYNC_BEAT_SECONDS,
            "options": {"expires": GRAPH_SYNC_BEAT_SECONDS},
        },
        "graph-watch-visibility": {
            "task": "graph.watch_visibility",
            "schedule": GRAPH_SYNC_BEAT_SECONDS,
            "options": {"expires": GRAPH_SYNC_BEAT_SECONDS},
        },
    }
)
# A task whose whole worker died (SIGKILL, a lost machine) stays unacknowledged in Redis
# until CELERY_VISIBILITY_TIMEOUT passes; this is how often a worker looks for such tasks
# to put back on the queue (kombu's default sweep is only every 100 s).
CELERY_BROKER_TRANSPORT_OPTIONS.update(
    {"unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_SECONDS", 10), "unacked_restore_throttle": 1}
)
