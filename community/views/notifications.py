"""Community pages: notifications (routes in urlpatterns, collected by community.urls)."""

urlpatterns = []
