"""Integer fields bounded to signed 64 bits, the widest integer the pipeline can carry.

JSON itself puts no limit on an integer, and pydantic accepts any Python int. The stream
workers store table values with orjson, which refuses an integer outside signed 64 bits
(or unsigned 64 bits), Kafka consumers in Java or Go decode into a long or int64, and
the JSON Schema files say so with `minimum`/`maximum`. A model field typed `Int64` is
refused as a schema violation naming the field (422 at the gateway, a dead letter at a
worker) instead of being accepted and failing downstream.
"""

from typing import Annotated, Final

from pydantic import Field

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
