"""The OpenAPI 3 document for the API, built from the same constants the views validate with."""
from typing import Any

from .errors import ALLOWED_METHODS
from .modes import MODES
from .params import DEFAULT_LIMIT, INTERVALS, MAX_LIMIT


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


RESPONSES = {
    "400": _error("A parameter is missing, repeated or out of range; `parameter` names it"),
    "404": _error("Unknown exchange or pair"),
    # OpenAPI describes operations that exist; this is the answer to every method that
    # does not (POST, PUT, PATCH, DELETE, OPTIONS), with `Allow: GET, HEAD`.
    "405": _error("Any method but GET and HEAD: the API is read-only"),
    "503": _error("The database is unavailable; see Retry-After"),
}


def _candle_operation(mode: str, description: str) -> dict[str, Any]:
    return {
        "operationId": f"candles_{mode.replace('-', '_')}",
        "summary": f"Latest candles, serialized by the `{mode}` mode",
        "description": description,
        "parameters": [
            {"$ref": "#/components/parameters/interval"},
            {"$ref": "#/components/parameters/limit"},
            {"$ref": "#/components/parameters/before"},
        ],
        "responses": {
            "200": {
                "description": "The latest `limit` candles before `before`, oldest first",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Candles"}}},
            },
            **RESPONSES,
        },
    }


def _path_item(mode: str, description: str) -> dict[str, Any]:
    return {
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
            for name in ("exchange", "market", "asset")
        ],
        "get": _candle_operation(mode, description),
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "candlebench",
            "version": "1.0.0",
            "description": "One OHLCV candle endpoint served in several serialization modes; "
            f"every mode answers the same document. Allowed methods: {', '.join(ALLOWED_METHODS)}.",
        },
        "paths": {
            "/api/modes": {
                "get": {
                    "operationId": "list_modes",
                    "responses": {
                        "405": _error("Any method but GET and HEAD"),
                        "200": {
                            "description": "The modes, in report order",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Modes"}}},
                        }
                    },
                }
            },
            **{
                f"/api/{mode}/candle/{{exchange}}/{{market}}/{{asset}}": _path_item(mode, description)
                for mode, description in MODES.items()
            },
        },
        "components": {
            "parameters": {
                "interval": {
                    "name": "interval",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "enum": list(INTERVALS)},
                },
                "limit": {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                },
                "before": {
                    "name": "before",
                    "in": "query",
                    "required": False,
                    "description": "Exclusive upper bound on basetm; ISO 8601, no offset means UTC",
                    "schema": {"type": "string", "format": "date-time"},
                },
            },
            "schemas": {
                "Candle": {
                    "type": "object",
                    "required": ["basetm", "o", "h", "l", "c", "v"],
                    "additionalProperties": False,
                    "properties": {
                        "basetm": {"type": "string", "format": "date-time"},
                        **{field: {"type": "number"} for field in ("o", "h", "l", "c", "v")},
                    },
                },
                "Candles": {
                    "type": "object",
                    "required": ["data"],
                    "additionalProperties": False,
                    "properties": {
                        "data": {"type": "array", "maxItems": MAX_LIMIT, "items": {"$ref": "#/components/schemas/Candle"}}
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "detail"],
                    "properties": {
                        "error": {"type": "string"},
                        "detail": {"type": "string"},
                        "parameter": {"type": "string", "enum": ["interval", "limit", "before"]},
                        "allowed": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                    },
                },
                "Modes": {
                    "type": "object",
                    "required": ["modes"],
                    "properties": {
                        "modes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "description", "path"],
                                "properties": {
                                    "name": {"type": "string", "enum": list(MODES)},
                                    "description": {"type": "string"},
                                    "path": {"type": "string"},
                                },
                            },
                        }
                    },
                },
            },
        },
    }
