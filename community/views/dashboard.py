"""Community pages: dashboard (routes in urlpatterns, collected by community.urls)."""

urlpatterns = []
