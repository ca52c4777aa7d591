import type { ServerReadableStream, sendUnaryData } from "@grpc/grpc-js";
import type { AddModelMessage, ControlServer, ListModelsRequest, ListModelsResponse, ModelView, RemoveModelRequest } from "../../proto/gen/nightshift/v1/control.ts";
import { BadInputError } from "../../shared/errors.ts";
import { toServiceError, unary } from "../grpc/grpc-errors.ts";
import type { ModelRow } from "../store/models-table.ts";
import type { AddModelHeader, ModelCatalog } from "./model-catalog.ts";

export const wireModel = (m: ModelRow): ModelView => ({ ...m, addedAtMs: m.addedAt });

/**
 * The model store's part of the Control service (admin certificate only):
 * AddModel reads a header, then the file's bytes, message by message, so a
 * slow disk holds back the upload instead of filling memory.
 */
export function modelAdminHandler(catalog: ModelCatalog): Pick<ControlServer, "addModel" | "listModels" | "removeModel"> {
  return {
    addModel(call: ServerReadableStream<AddModelMessage, ModelView>, callback: sendUnaryData<ModelView>): void {
      const messages = (call as AsyncIterable<AddModelMessage>)[Symbol.asyncIterator]();
      const run = async (): Promise<ModelView> => {
        const first = await messages.next();
        const body = first.done ? undefined : first.value.body;
        if (body?.$case !== "header") throw new BadInputError("AddModel must start with a header", { field: "header" });
        const header: AddModelHeader = body.value;
        async function* data(): AsyncIterable<Uint8Array> {
          for (let m = await messages.next(); !m.done; m = await messages.next()) {
            if (m.value.body?.$case !== "data") throw new BadInputError("AddModel: a second header", { field: "header" });
            yield m.value.body.value;
          }
        }
        return wireModel(await catalog.add(header, data()));
      };
      run()
        .then((res) => callback(null, res))
        .catch((err: unknown) => callback(toServiceError(err)));
    },
    listModels: unary<ListModelsRequest, ListModelsResponse>(() => ({ models: catalog.list().map(wireModel) })),
    removeModel: unary<RemoveModelRequest, ModelView>(async (req) => wireModel(await catalog.remove(req.name))),
  };
}
