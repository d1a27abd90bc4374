"""Campaign URLs: public pages (views.public) and the organizer's workspace (views.organizer)."""

from django.urls import path

from campaigns.views import organizer, public

app_name = "campaigns"
urlpatterns = [
    # Public
    path("discover/", public.discover, name="discover"),
    path("c/<slug:slug>/", public.detail, name="detail"),
    # Organizer workspace
    path("campaigns/start/", organizer.start, name="start"),
    path("campaigns/mine/", organizer.mine, name="mine"),
    path("campaigns/<int:pk>/edit/", organizer.edit, name="edit"),
    path("campaigns/<int:pk>/edit/basics/", organizer.edit_basics, name="edit_basics"),
    path("campaigns/<int:pk>/edit/story/", organizer.edit_story, name="edit_story"),
    path("campaigns/<int:pk>/edit/funding/", organizer.edit_funding, name="edit_funding"),
    path("campaigns/<int:pk>/edit/rewards/", organizer.edit_rewards, name="edit_rewards"),
    path(
        "campaigns/<int:pk>/edit/rewards/<int:reward_pk>/",
        organizer.edit_reward,
        name="edit_reward",
    ),
    path(
        "campaigns/<int:pk>/edit/rewards/<int:reward_pk>/delete/",
        organizer.delete_reward,
        name="delete_reward",
    ),
    path("campaigns/<int:pk>/edit/budget/", organizer.edit_budget, name="edit_budget"),
    path(
        "campaigns/<int:pk>/edit/budget/<int:item_pk>/delete/",
        organizer.delete_budget_item,
        name="delete_budget_item",
    ),
    path(
        "campaigns/<int:pk>/edit/stretch-goals/",
        organizer.edit_stretch_goals,
        name="edit_stretch_goals",
    ),
    path(
        "campaigns/<int:pk>/edit/stretch-goals/<int:goal_pk>/delete/",
        organizer.delete_stretch_goal,
        name="delete_stretch_goal",
    ),
    path("campaigns/<int:pk>/edit/team/", organizer.edit_team, name="edit_team"),
    path("campaigns/<int:pk>/review/", organizer.review, name="review"),
    path("campaigns/<int:pk>/preview/", organizer.preview, name="preview"),
    path("campaigns/<int:pk>/submit/", organizer.submit, name="submit"),
    path("campaigns/<int:pk>/launch/", organizer.launch, name="launch"),
    path("campaigns/<int:pk>/cancel/", organizer.cancel, name="cancel"),
    path("campaigns/<int:pk>/payments/", organizer.payments, name="payments"),
    path(
        "campaigns/<int:pk>/payments/<uuid:pledge_id>/remind/",
        organizer.send_reminder,
        name="send_reminder",
    ),
    path("invitations/<uuid:token>/", organizer.accept_invitation, name="accept_invitation"),
]
