from django.contrib import admin
from django.urls import include, path

from .views import home

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("api/", include("candles.api.urls")),
]

# The API must never answer with an HTML error page; these fall back to Django's own
# pages for everything outside /api/.
handler400 = "candles.api.errors.bad_request"
handler403 = "candles.api.errors.permission_denied"
handler404 = "candles.api.errors.page_not_found"
handler500 = "candles.api.errors.server_error"
