from django.urls import path

from . import views

urlpatterns = [
    path("db", views.db),
    path("queries", views.queries),
    path("updates", views.updates),
    path("fortunes", views.fortunes),
]
