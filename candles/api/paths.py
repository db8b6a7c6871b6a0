"""The candle endpoint's path for a mode, always from the URLconf (reverse()): the OpenAPI
document, the admin's links and the tests build paths here, never by hand."""

from urllib.parse import unquote, urlencode

from django.urls import reverse

PATH_PARTS = ("exchange", "market", "asset")


def url_name(mode: str) -> str:
    return f"candles-{mode}"


def path_template(mode: str) -> str:
    """'/api/<mode>/candle/{exchange}/{market}/{asset}', as OpenAPI and /api/modes write it."""
    return unquote(reverse(url_name(mode), kwargs={part: f"{{{part}}}" for part in PATH_PARTS}))


def candle_url(mode: str, exchange: str, market: str, asset: str, **query: object) -> str:
    """A request's URL: the names quoted by reverse(), the query string appended."""
    path = reverse(url_name(mode), kwargs={"exchange": exchange, "market": market, "asset": asset})
    return f"{path}?{urlencode(query)}" if query else path
