from django.urls import path

from . import drf_views, floor, plain_views
from .meta_views import list_modes, openapi_json
from .ninja_api import api as ninja_api

CANDLE_PATH = "candle/<str:exchange>/<str:market>/<str:asset>"

VIEWS = {
    "drf-validated": drf_views.DrfValidatedView.as_view(),
    "drf": drf_views.DrfView.as_view(),
    "drf-orjson": drf_views.DrfOrjsonView.as_view(),
    "json": plain_views.json_mode,
    "orjson": plain_views.orjson_mode,
    "raw": plain_views.raw_mode,
}
# Diagnostics, not modes: the server's ceiling for the same response (see floor.py).
DIAGNOSTIC_VIEWS = {"floor": floor.floor, "floor-async": floor.floor_async}


urlpatterns = [
    path("modes", list_modes, name="modes"),
    path("openapi.json", openapi_json, name="openapi"),
    path("ninja/", ninja_api.urls),
    *(
        path(f"{name}/{CANDLE_PATH}", view, name=f"candles-{name}")
        for name, view in (VIEWS | DIAGNOSTIC_VIEWS).items()
    ),
]
