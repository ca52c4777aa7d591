import type { AddModelMessage, ControlServer, ListModelsRequest, ListModelsResponse, ModelView, RemoveModelRequest } from "../../proto/gen/nightshift/v1/control.ts";
import { unary } from "../grpc/grpc-errors.ts";
import { headerThenData } from "../grpc/header-then-data.ts";
import type { ModelRow } from "../store/models-table.ts";
import type { AddModelHeader, ModelCatalog } from "./model-catalog.ts";

export const wireModel = (m: ModelRow): ModelView => ({ ...m, addedAtMs: m.addedAt });

/**
 * The model store's part of the Control service (admin certificate only):
 * AddModel reads a header, then the file's bytes (grpc/header-then-data.ts).
 */
export function modelAdminHandler(catalog: ModelCatalog): Pick<ControlServer, "addModel" | "listModels" | "removeModel"> {
  return {
    addModel: headerThenData<AddModelHeader, AddModelMessage, ModelView>("AddModel", async (header, data) => wireModel(await catalog.add(header, data))),
    listModels: unary<ListModelsRequest, ListModelsResponse>(() => ({ models: catalog.list().map(wireModel) })),
    removeModel: unary<RemoveModelRequest, ModelView>(async (req) => wireModel(await catalog.remove(req.name))),
  };
}
