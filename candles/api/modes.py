"""The serialization modes, in the order the report lists them (slowest expected first)."""
MODES: dict[str, str] = {
    "drf-validated": "DRF ModelSerializer, then the output validated again by a response "
    "serializer (FastAPI response_model analogue)",
    "drf": "DRF ModelSerializer(many=True) rendered by DRF's JSONRenderer",
    "drf-orjson": "the same DRF serializer rendered with orjson",
    "ninja": "django-ninja with a Pydantic response schema",
    "json": ".values() into Django's JsonResponse (stdlib json)",
    "orjson": "async view, async ORM iteration over .values(), orjson into HttpResponse",
    "raw": "the selector's SQL on the DB cursor, tuples to orjson: no ORM hydration "
    "(on SQLite the time is read as its stored text, already the document's spelling)",
}
