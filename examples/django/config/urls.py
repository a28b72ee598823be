"""URLs of the fcgi-wsgi demo: the demo app at the root, the admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path('admin/', admin.site.urls),
    path('', include('demo.urls')),
]
