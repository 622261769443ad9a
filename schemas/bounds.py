"""The largest values the pipeline carries: integers of signed 64 bits, strings of bounded length.

Integers. JSON itself puts no limit on an integer, and pydantic accepts any Python int.
The stream workers store table values with orjson, which refuses an integer outside
signed 64 bits (or unsigned 64 bits), Kafka consumers in Java or Go decode into a long
or int64, and the JSON Schema files say so with `minimum`/`maximum`. A model field typed
`Int64` is refused as a schema violation naming the field (422 at the gateway, a dead
letter at a worker) instead of being accepted and failing downstream.

Strings. Every string a model names can end up in a table row or key of the stream
workers (an id, an email, an error message, a URL). Bounding each bounds every row by
construction: the largest row is a few dozen KiB, whatever a sender puts in a 1 MiB body,
never near Kafka's 1 MB record limit on the changelogs (streams.tables). The limits are
far above anything Apple or an app sender documents: `Id` for identifiers (uId,
notificationId, serialNumber, clientUserId, ...), `Text` for free text and URLs. Fields a
sender adds beyond the models are kept in the record but never stored in a table.
"""

from typing import Annotated, Final

from pydantic import Field, StringConstraints

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
ID_MAX_CHARS: Final = 1024
TEXT_MAX_CHARS: Final = 8192

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX_CHARS)]
OptionalId = Annotated[str, StringConstraints(max_length=ID_MAX_CHARS)]  # may be empty
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX_CHARS)]
NonEmptyText = Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX_CHARS)]
