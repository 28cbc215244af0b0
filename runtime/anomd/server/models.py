"""Model management routes: list, inspect, delete."""

from __future__ import annotations

from typing import ClassVar

from litestar import Controller, delete, get
from litestar.params import FromPath

from anomd.server.schemas import DeleteResponse, ListResponse
from anomd.server.state import AppStateDep


class ModelsController(Controller):
    path = "/v1/ml/anomaly/models"
    tags: ClassVar[list[str]] = ["models"]

    @get("/", summary="List stored models")
    async def list_models(self, app_state: AppStateDep) -> ListResponse:
        rows = await app_state.workers.run(app_state.service.list_models)
        return ListResponse(data=rows, total=len(rows))

    @get("/{filename:str}", summary="Everything known about one model (manifest only, never unpickled)")
    async def model_info(self, filename: FromPath[str], app_state: AppStateDep) -> dict:
        return await app_state.workers.run(app_state.service.model_info, filename)

    @delete("/{filename:str}", status_code=200, summary="Delete a model from storage and memory")
    async def delete_model(self, filename: FromPath[str], app_state: AppStateDep) -> DeleteResponse:
        await app_state.workers.run(app_state.service.delete_model, filename)
        return DeleteResponse(filename=filename, deleted=True)
