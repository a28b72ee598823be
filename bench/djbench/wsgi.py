"""WSGI entry point of the bench's Django project: djbench.wsgi."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'djbench.settings')

application = get_wsgi_application()
