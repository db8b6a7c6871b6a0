"""The response schema in Pydantic v1's idiom, for django-ninja 0.22 on the 2023-08 stack
(docs/stacks.md): the same fields and rules as pydantic.py's, which is Pydantic v2 code
(`AwareDatetime` is v2's; v1 checks the offset in a validator). ninja.py declares its Schema
over this module's `CandleOut` where Pydantic is v1. Not a mode of its own: the pydantic mode's
TypeAdapter is v2's API. mypy does not read this module (pyproject.toml): it checks against
today's Pydantic v2.
"""

from datetime import datetime
from typing import Annotated

import pydantic

from ..errors import ApiError, invalid_response

Finite = Annotated[float, pydantic.Field(allow_inf_nan=False)]
Volume = Annotated[float, pydantic.Field(ge=0, allow_inf_nan=False)]


class CandleOut(pydantic.BaseModel):
    """The response schema: basetm aware, every number finite, the volume >= 0."""

    basetm: datetime
    o: Finite
    h: Finite
    l: Finite
    c: Finite
    v: Volume

    @pydantic.validator("basetm")
    def aware(cls, value: datetime) -> datetime:
        if value.utcoffset() is None:
            raise ValueError("Input should have timezone info")  # v2's AwareDatetime message
        return value


class CandleDocument(pydantic.BaseModel):
    data: list[CandleOut]


def schema_violation(exc: pydantic.ValidationError) -> ApiError:
    """Pydantic's first error (its location ends with the field) as the invalid_response 500."""
    error = exc.errors()[0]
    return invalid_response(str(error["loc"][-1]), error["msg"])
