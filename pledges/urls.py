"""Pledge pages: /c/<slug>/pledge/ starts one; /pledges/... manages them."""

from django.urls import path

from pledges import api, views

app_name = "pledges"
urlpatterns = [
    path("c/<slug:slug>/pledge/", views.new, name="new"),
    path("pledges/", views.mine, name="mine"),
    path("pledges/<uuid:public_id>/", views.detail, name="detail"),
    path("pledges/<uuid:public_id>/card/", views.card, name="card"),
    path("pledges/<uuid:public_id>/confirm/", views.confirm, name="confirm"),
    path("pledges/<uuid:public_id>/card/update/", views.update_card, name="update_card"),
    path("pledges/<uuid:public_id>/cancel/", views.cancel, name="cancel"),
    path("pledges/<uuid:public_id>/email-consent/", views.email_consent, name="email_consent"),
    path("pledges/<uuid:public_id>/pay/", views.authenticate, name="authenticate"),
    path("pledges/<uuid:public_id>/pay/confirm/", views.authenticated, name="authenticated"),
    path("pledges/<uuid:public_id>/fix-card/", views.fix_card, name="fix_card"),
    path(
        "pledges/<uuid:public_id>/fix-card/confirm/",
        views.fix_card_confirm,
        name="fix_card_confirm",
    ),
    path("pledges/<uuid:public_id>/payment-status/", views.payment_status, name="payment_status"),
    path("api/pledges/", api.pledges, name="api_list"),
    path("api/pledges/<uuid:public_id>/", api.detail, name="api_detail"),
    path("api/pledges/<uuid:public_id>/confirm/", api.confirm, name="api_confirm"),
]
