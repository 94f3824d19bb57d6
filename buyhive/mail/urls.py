from __future__ import annotations

from django.urls import URLPattern, path

from buyhive.mail import views

urlpatterns: list[URLPattern] = [
    path("mail/unsubscribe/<str:token>/", views.unsubscribe, name="mail_unsubscribe"),
]
