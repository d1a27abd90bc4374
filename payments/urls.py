"""URLs of the payments app (mounted at /payments/)."""

from django.urls import path

from payments import views

app_name = "payments"

urlpatterns = [
    path("stripe/webhook/", views.stripe_webhook, name="stripe-webhook"),
    path("stripe/connect-webhook/", views.stripe_connect_webhook, name="stripe_connect_webhook"),
]
