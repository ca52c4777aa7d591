import { once } from "node:events";
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { AssetStat, FetchModelRequest, ModelPart, ModelStoreServer, StatAssetRequest } from "../../proto/gen/nightshift/v1/model_store.ts";
import type { Logger } from "../../shared/log.ts";
import { NotFoundError, toServiceError, unary } from "../grpc/grpc-errors.ts";
import { AssetNotFoundError, type AssetStore } from "./asset-store.ts";
import { checkSha256 } from "../../shared/assets/asset-ref.ts";

/**
 * gRPC edge of the asset store: Fetch streams an asset's bytes from the
 * offset the agent asks for, pausing when the HTTP/2 window is full (so a slow
 * agent holds back the file reads, not the coordinator's memory). Who may call
 * is the peer guard's business (enrolled, non-removed agents only).
 */
export function modelStoreHandler(store: AssetStore, log: Logger): ModelStoreServer {
  return {
    fetch(call: ServerWritableStream<FetchModelRequest, ModelPart>): void {
      const { sha256, offset, size } = call.request;
      let source: ReturnType<AssetStore["read"]> | undefined;
      call.on("cancelled", () => source?.destroy());
      const run = async (): Promise<void> => {
        checkSha256(sha256);
        source = store.read({ sha256, size }, offset);
        let at = offset;
        for await (const data of source) {
          if (call.cancelled) return;
          const part: ModelPart = { data, offset: at, totalSize: size };
          at += data.length;
          if (!call.write(part)) await once(call, "drain");
        }
        call.end();
      };
      run().catch((err: unknown) => {
        source?.destroy();
        if (call.cancelled) return;
        const mapped = err instanceof AssetNotFoundError ? new NotFoundError(err.message) : err;
        log.warn({ sha256: sha256.slice(0, 80), offset, err: err instanceof Error ? err.message : String(err) }, "asset fetch refused");
        // emit, not destroy: grpc-js turns an 'error' into the call's status and ends it; a destroyed stream never sends one.
        call.emit("error", Object.assign(new Error(err instanceof Error ? err.message : String(err)), toServiceError(mapped)));
      });
    },
    stat: unary<StatAssetRequest, AssetStat>((req) => {
      const ref = store.stat(checkSha256(req.sha256));
      return { present: ref !== undefined, size: ref?.size ?? 0 };
    }),
  };
}
