"""
Settings of the fcgi-wsgi demo project (made with Django 3.2's startproject).

Production-like on purpose: DEBUG is off, so 404 and 500 are the real error
pages and nginx serves the static files.  Paths that must be writable come
from the environment (examples/run-demo.sh and tests/e2e set them to a temp
dir); the defaults are inside this directory and ignored by git.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# A DEMO key, public in the repository: never reuse it for a real site.
SECRET_KEY = 'demo-only-not-secret-fcgi-wsgi-3f1c9a7e5b2d48c6a0e1f2b3c4d5e6f7'

DEBUG = False

ALLOWED_HOSTS = ['127.0.0.1', 'localhost']

INSTALLED_APPS = [
    'django.contrib.admin',
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
    'django.contrib.staticfiles',
    'demo',
]

MIDDLEWARE = [
    'django.middleware.security.SecurityMiddleware',
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    'django.contrib.messages.middleware.MessageMiddleware',
    'django.middleware.clickjacking.XFrameOptionsMiddleware',
]

ROOT_URLCONF = 'config.urls'

TEMPLATES = [
    {
        'BACKEND': 'django.template.backends.django.DjangoTemplates',
        'DIRS': [],
        'APP_DIRS': True,
        'OPTIONS': {
            'context_processors': [
                'django.template.context_processors.debug',
                'django.template.context_processors.request',
                'django.contrib.auth.context_processors.auth',
                'django.contrib.messages.context_processors.messages',
            ],
        },
    },
]

WSGI_APPLICATION = 'config.wsgi.application'

DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.sqlite3',
        'NAME': os.environ.get('DEMO_DB') or BASE_DIR / 'db.sqlite3',
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {'NAME': 'django.contrib.auth.password_validation.'
             'UserAttributeSimilarityValidator'},
    {'NAME': 'django.contrib.auth.password_validation.'
             'MinimumLengthValidator'},
    {'NAME': 'django.contrib.auth.password_validation.'
             'CommonPasswordValidator'},
    {'NAME': 'django.contrib.auth.password_validation.'
             'NumericPasswordValidator'},
]

LANGUAGE_CODE = 'en-us'
TIME_ZONE = 'UTC'
USE_I18N = True
USE_L10N = True
USE_TZ = True

# nginx serves STATIC_ROOT at /static/ (examples/nginx/fcgi-wsgi.conf.in);
# fill it with `manage.py collectstatic`.
STATIC_URL = '/static/'
STATIC_ROOT = os.environ.get('DEMO_STATIC_ROOT') or BASE_DIR / 'staticfiles'

# Uploads are only hashed (demo/views.py), never kept.  Those larger than
# FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) are spooled to a temporary file in
# DEMO_UPLOAD_TMP, or in the system's temp dir when it is not set.
FILE_UPLOAD_TEMP_DIR = os.environ.get('DEMO_UPLOAD_TMP') or None

DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'

# With DEBUG off Django logs nothing to the console by default.  Send
# warnings (404s) and errors (500s, with their traceback) to stderr, which
# fcgi-wsgi puts in its log.
LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'formatters': {
        'plain': {'format': '%(levelname)s %(name)s: %(message)s'},
    },
    'handlers': {
        'stderr': {'class': 'logging.StreamHandler', 'formatter': 'plain'},
    },
    'root': {'handlers': ['stderr'], 'level': 'WARNING'},
}
