"""One URL per Django scenario of `make bench`."""

from django.urls import path

from . import views

urlpatterns = [
    path('hello/', views.hello, name='hello'),
    path('page/', views.page, name='page'),
    path('json/', views.json, name='json'),
    path('upload/', views.upload, name='upload'),
]
