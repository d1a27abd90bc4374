"""Community pages: comments (routes in urlpatterns, collected by community.urls)."""

urlpatterns = []
