"""
Settings of the bench's Django project: those of `django-admin startproject`
(its apps, its seven middleware, its template context processors), DEBUG
off, and a database that no view touches (sessions and the user stay lazy).
What startproject writes as Django 3.2's default is left out; the rest is
written out here, not imported from examples/django, so that the demo's
edits never change what the bench measures.
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

# Public in the repository: a bench-only key.
SECRET_KEY = 'bench-only-not-secret-fcgi-wsgi-9d2e7b41c0a85f36e1d4b7a2c9f0e3d8'

DEBUG = False

ALLOWED_HOSTS = ['*']

INSTALLED_APPS = [
    'django.contrib.admin',
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
    'django.contrib.staticfiles',
    'djbench',
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

ROOT_URLCONF = 'djbench.urls'

TEMPLATES = [
    {
        'BACKEND': 'django.template.backends.django.DjangoTemplates',
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

WSGI_APPLICATION = 'djbench.wsgi.application'

# Never opened: a view that reached it would fail on the missing tables,
# and the bench would count the 500s.
DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.sqlite3',
        'NAME': ':memory:',
    }
}

TIME_ZONE = 'UTC'
USE_L10N = True
USE_TZ = True

STATIC_URL = '/static/'

# Errors (a 500's traceback) to stderr, which every server puts in its log.
LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'stderr': {'class': 'logging.StreamHandler'}},
    'root': {'handlers': ['stderr'], 'level': 'ERROR'},
}
