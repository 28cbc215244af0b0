"""The one error of series detection: bad input, naming the field it is about.

``field`` is the native (snake_case) name of the request field at fault; the native routes send
the message as a 422 problem, the Azure-compatible routes turn ``field`` into Azure's error code
(``InvalidSeries``, ``InvalidPeriod``...), so both doors explain the same failure the same way.
"""

from __future__ import annotations

from anomd.errors import InvalidInput


class SeriesInputError(InvalidInput):
    """A series or option that detection cannot use (422)."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
