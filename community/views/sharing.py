"""Community pages: sharing (routes in urlpatterns, collected by community.urls)."""

urlpatterns = []
