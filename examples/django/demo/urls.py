"""URLs of the demo app: one view per thing worth seeing through a server."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path('', views.home, name='home'),
    path('form/', views.form, name='form'),
    path('upload/', views.upload, name='upload'),
    path('stream/', views.stream, name='stream'),
    path('download/', views.download, name='download'),
    path('boom/', views.boom, name='boom'),
    path('redirect/', views.redirect_home, name='redirect'),
    re_path(r'^echo/(?P<rest>.*)$', views.echo, name='echo'),
]
