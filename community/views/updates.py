"""Community pages: updates (routes in urlpatterns, collected by community.urls)."""

urlpatterns = []
