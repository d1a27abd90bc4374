from django.urls import path

from members import views

app_name = "members"
urlpatterns = [
    path("me/edit/", views.edit_profile, name="edit_profile"),
    path("<int:pk>/", views.profile, name="profile"),
]
