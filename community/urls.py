"""Community URLs; each views module lists its own routes (community.views.*.urlpatterns)."""

from community.views import comments, dashboard, notifications, sharing, updates

app_name = "community"
urlpatterns = [
    *updates.urlpatterns,
    *comments.urlpatterns,
    *notifications.urlpatterns,
    *sharing.urlpatterns,
    *dashboard.urlpatterns,
]
