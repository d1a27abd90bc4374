"""Payout URLs, mounted at the site root like campaigns.urls: the member's payout account and a
campaign's payouts and request form (views), receipt downloads (receipt_views), the public
Money pages and platform totals (public_views), supporters' concerns (concern_views)."""

from django.urls import path

from payouts import concern_views, public_views, receipt_views, views
from payouts.refund_views import refund, refunds_list

app_name = "payouts"
urlpatterns = [
    # The organizer's pages
    path("payouts/account/", views.account, name="account"),
    path("payouts/account/onboard/", views.onboard, name="onboard"),
    path(
        "payouts/account/onboarding/return/",
        views.onboarding_return,
        name="onboarding_return",
    ),
    path(
        "payouts/account/onboarding/refresh/",
        views.onboarding_refresh,
        name="onboarding_refresh",
    ),
    path("payouts/account/use-stripe/", views.use_stripe, name="use_stripe"),
    path("campaigns/<int:pk>/payouts/", views.campaign_payouts, name="campaign"),
    path("campaigns/<int:pk>/payouts/request/", views.request_payout, name="request"),
    # Refunds of the campaign's own supporters (refund_views)
    path("campaigns/<int:pk>/payouts/refunds/", refunds_list, name="refunds"),
    path(
        "campaigns/<int:pk>/payouts/refunds/<uuid:pledge_public_id>/",
        refund,
        name="refund",
    ),
    # Receipts
    path(
        "payouts/<uuid:public_id>/receipts/<int:receipt_id>/",
        receipt_views.receipt_file,
        name="receipt",
    ),
    # Public transparency
    path("c/<slug:slug>/money/", public_views.money, name="money"),
    path("c/<slug:slug>/money.csv", public_views.money_csv, name="money_csv"),
    path("transparency/", public_views.platform_totals, name="platform_totals"),
    # Supporters' concerns
    path(
        "payouts/<uuid:public_id>/concerns/",
        concern_views.raise_concern_view,
        name="raise_concern",
    ),
    path(
        "payouts/concerns/<int:pk>/answer/",
        concern_views.answer_concern_view,
        name="answer_concern",
    ),
    path(
        "payouts/concerns/<int:pk>/hide/",
        concern_views.hide_concern_view,
        name="hide_concern",
    ),
]
