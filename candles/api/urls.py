"""The API's URLs, from the mode registry: one route per mode Django serves on this stack (named
by paths.url_name), /api/modes and /api/openapi.json."""

from django.urls import path

from .meta_views import list_modes, openapi_json
from .paths import url_name
from .registry import django_modes, mode_view

CANDLE_PATH = "candle/<str:exchange>/<str:market>/<str:asset>"

urlpatterns = [
    path("modes", list_modes, name="modes"),
    path("openapi.json", openapi_json, name="openapi"),
    *(
        path(f"{mode.name}/{CANDLE_PATH}", view, name=url_name(mode.name))
        for mode in django_modes(diagnostics=True)
        # Every one has a view that imports: it is what django_modes selects.
        if mode.view and (view := mode_view(mode.view))
    ),
]
