"""The API's URLs, from the mode registry: one route per mode Django serves on this stack (named
by paths.url_name), each mode's view under the cache setup (settings.CANDLEBENCH_CACHE), and
/api/modes and /api/openapi.json."""

from django.conf import settings
from django.core.cache import caches
from django.urls import URLPattern, path

from .cache_page import page_cached
from .caching import API_CACHE, Handling, cache_setup
from .conditional import conditional
from .document_cache import View, document_cached
from .meta_views import list_modes, openapi_json
from .paths import url_name
from .registry import Mode, django_modes, mode_view

CANDLE_PATH = "candle/<str:exchange>/<str:market>/<str:asset>"


def cached_view(mode: Mode, view: View, cache: str) -> View:
    """`view`, which serves `mode`, under the cache setup called `cache`: the one place a mode
    gets its cache, so a mode added to the registry is cached like the others. Diagnostics (the
    floor) stay as they are: they are the ceiling a cached answer is measured against."""
    handling = cache_setup(cache).handling
    if mode.diagnostic or handling is Handling.NONE:
        return view
    if handling is Handling.CACHE_PAGE:
        return page_cached(view, settings.CANDLEBENCH_CACHE_SECONDS)
    if handling is Handling.CONDITIONAL:
        return conditional(view)
    return document_cached(mode.name, view, caches[API_CACHE])


def api_urlpatterns(cache: str) -> list[URLPattern]:
    """The API's routes with every mode this stack serves under the cache setup called `cache`."""
    return [
        path("modes", list_modes, name="modes"),
        path("openapi.json", openapi_json, name="openapi"),
        *(
            path(
                f"{mode.name}/{CANDLE_PATH}",
                cached_view(mode, view, cache),
                name=url_name(mode.name),
            )
            for mode in django_modes(diagnostics=True)
            # Every one has a view that imports: it is what django_modes selects.
            if mode.view and (view := mode_view(mode.view))
        ),
    ]


urlpatterns = api_urlpatterns(settings.CANDLEBENCH_CACHE)
