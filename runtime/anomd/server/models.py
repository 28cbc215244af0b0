"""Model management routes: list, inspect, delete."""

from __future__ import annotations

from typing import Annotated, ClassVar

from litestar import Controller, delete, get
from litestar.openapi.spec import Example
from litestar.params import PathParameter

from anomd.server.openapi_body import operation
from anomd.server.schemas import (
    FILENAME_PATTERN,
    DeleteResponse,
    ModelInfoResponse,
    ModelListResponse,
)
from anomd.server.state import AppStateDep

#: The artifact's name. Its pattern is published but checked by the service (``check_filename``),
#: so a bad one gets a 422 that says what a filename looks like, not Litestar's generic 400.
Filename = Annotated[str, PathParameter(
    description="`<model>_<backend>.joblib`, as GET /models lists it.",
    schema_extra={"pattern": FILENAME_PATTERN, "maxLength": 255},
    examples=[Example(value="fraud-detector_ecod.joblib")],
)]
_NO_MODEL = (404, "No stored model has this filename.")
_BAD_FILENAME = (422, "Not a model filename (`<model>_<backend>.joblib`).")


class ModelsController(Controller):
    path = "/v1/ml/anomaly/models"
    tags: ClassVar[list[str]] = ["models"]

    @get("/", summary="List stored models", operation_class=operation(503, reply=ModelListResponse))
    async def list_models(self, app_state: AppStateDep) -> ModelListResponse:
        rows = await app_state.workers.run(app_state.service.list_models)
        return ModelListResponse(data=rows, total=len(rows))

    @get("/{filename:str}", summary="Everything known about one model (manifest only, never unpickled)",
         operation_class=operation(
             _NO_MODEL, (409, "The artifact's manifest failed its integrity check."),
             _BAD_FILENAME, 503, reply=ModelInfoResponse))
    async def model_info(self, filename: Filename, app_state: AppStateDep) -> ModelInfoResponse:
        return await app_state.workers.run(app_state.service.model_info, filename)

    @delete("/{filename:str}", status_code=200, summary="Delete a model from storage and memory",
            operation_class=operation(_NO_MODEL, _BAD_FILENAME, 503))
    async def delete_model(self, filename: Filename, app_state: AppStateDep) -> DeleteResponse:
        await app_state.workers.run(app_state.service.delete_model, filename)
        return DeleteResponse(filename=filename, deleted=True)
