"""The API's URLs, from the mode registry: one route per mode Django serves (named by
paths.url_name), /api/modes and /api/openapi.json."""

from django.urls import path
from django.utils.module_loading import import_string

from .meta_views import list_modes, openapi_json
from .paths import url_name
from .registry import django_modes

CANDLE_PATH = "candle/<str:exchange>/<str:market>/<str:asset>"

urlpatterns = [
    path("modes", list_modes, name="modes"),
    path("openapi.json", openapi_json, name="openapi"),
    *(
        path(f"{mode.name}/{CANDLE_PATH}", import_string(view), name=url_name(mode.name))
        for mode in django_modes(diagnostics=True)
        if (view := mode.view)  # every one has a view: it is what django_modes selects
    ),
]
