"""The OpenAPI 3 document for the API, built from the mode registry and the same
constants the views validate with; paths come from the URLconf."""

from typing import Any

from .errors import ALLOWED_METHODS
from .params import DEFAULT_LIMIT, INTERVALS, MAX_LIMIT
from .paths import path_template
from .registry import Mode

CANDLE_FIELDS_NUMBERS = ("o", "h", "l", "c", "v")


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


INVALID_RESPONSE = _error(
    "A stored row breaks the response schema (basetm aware, numbers finite, v >= 0): "
    "`field` names it, and no part of the document is sent"
)


def _candle_operation(mode: Mode) -> dict[str, Any]:
    validates = (
        "validates every row against the response schema"
        if mode.validates
        else "serves rows as stored"
    )
    document = "ValidatedCandles" if mode.validates else "Candles"
    return {
        "operationId": f"candles_{mode.name.replace('-', '_')}",
        "summary": f"Latest candles, serialized by the `{mode.name}` mode",
        "description": f"{mode.description}; {validates}.",
        "x-validates": mode.validates,
        "parameters": [
            {"$ref": "#/components/parameters/interval"},
            {"$ref": "#/components/parameters/limit"},
            {"$ref": "#/components/parameters/before"},
        ],
        "responses": {
            "200": {
                "description": "The latest `limit` candles before `before`, oldest first",
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{document}"}}
                },
            },
            **RESPONSES,
            **({"500": INVALID_RESPONSE} if mode.validates else {}),
        },
    }


def _candles_schema(candle: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data"],
        "additionalProperties": False,
        "properties": {
            "data": {
                "type": "array",
                "maxItems": MAX_LIMIT,
                "items": {"$ref": f"#/components/schemas/{candle}"},
            }
        },
    }


def _candle_schema(description: str, v: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "required": ["basetm", *CANDLE_FIELDS_NUMBERS],
        "additionalProperties": False,
        "properties": {
            "basetm": {"type": "string", "format": "date-time"},
            **{field: {"type": "number"} for field in CANDLE_FIELDS_NUMBERS[:-1]},
            "v": v,
        },
    }


def _path_item(mode: Mode) -> dict[str, Any]:
    return {
        "parameters": [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "minLength": 1},
            }
            for name in ("exchange", "market", "asset")
        ],
        "get": _candle_operation(mode),
    }


def openapi_document(modes: tuple[Mode, ...]) -> dict[str, Any]:
    """The document for the modes Django serves (`floor` and other diagnostics are left
    out, as are paths only another server serves)."""
    modes = tuple(m for m in modes if m.view and not m.diagnostic)
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
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Modes"}
                                }
                            },
                        },
                    },
                }
            },
            **{path_template(mode.name): _path_item(mode) for mode in modes},
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
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_LIMIT,
                        "default": DEFAULT_LIMIT,
                    },
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
                "Candle": _candle_schema("A row as stored", {"type": "number"}),
                "Candles": _candles_schema("Candle"),
                "ValidatedCandle": _candle_schema(
                    "A row checked against the response schema", {"type": "number", "minimum": 0}
                ),
                "ValidatedCandles": _candles_schema("ValidatedCandle"),
                "Error": {
                    "type": "object",
                    "required": ["error", "detail"],
                    "properties": {
                        "error": {"type": "string"},
                        "detail": {"type": "string"},
                        "parameter": {"type": "string", "enum": ["interval", "limit", "before"]},
                        "field": {"type": "string", "enum": ["basetm", *CANDLE_FIELDS_NUMBERS]},
                        "allowed": {
                            "oneOf": [
                                {"type": "string"},
                                {"type": "array", "items": {"type": "string"}},
                            ]
                        },
                    },
                },
                "Mode": {
                    "type": "object",
                    "required": ["name", "description", "validates", "path"],
                    "properties": {
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "validates": {
                            "type": "boolean",
                            "description": "checks every row (500 otherwise)",
                        },
                        "path": {"type": "string"},
                    },
                },
                "Modes": {
                    "type": "object",
                    "required": ["modes", "diagnostics"],
                    "properties": {
                        "modes": {"type": "array", "items": {"$ref": "#/components/schemas/Mode"}},
                        "diagnostics": {
                            "type": "array",
                            "description": "measurement aids such as floor, the server's ceiling: not modes",
                            "items": {"$ref": "#/components/schemas/Mode"},
                        },
                    },
                },
            },
        },
    }
