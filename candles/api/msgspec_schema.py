"""The response schema as msgspec Structs, for the msgspec modes and django-bolt's handlers.

The same rules as the DRF and Pydantic schemas: `basetm` an aware datetime, every price and
the volume finite (bounds at the largest float shut out NaN and infinity), the volume >= 0.
`CandleOut` holds only a datetime and floats, so it can never be part of a reference cycle:
`gc=False` keeps a thousand of them per response out of the garbage collector's lists.
"""
import sys
from datetime import datetime
from typing import Annotated

import msgspec

FLOAT_MAX = sys.float_info.max
Finite = Annotated[float, msgspec.Meta(ge=-FLOAT_MAX, le=FLOAT_MAX)]
Volume = Annotated[float, msgspec.Meta(ge=0, le=FLOAT_MAX)]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class CandleOut(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    basetm: AwareDatetime
    o: Finite
    h: Finite
    l: Finite  # noqa: E741
    c: Finite
    v: Volume


class CandleDocument(msgspec.Struct):
    data: list[CandleOut]
