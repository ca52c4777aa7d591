import { once } from "node:events";
import type { handleUnaryCall, ServerWritableStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { AssetStat, FetchModelRequest, ModelPart, StatAssetRequest } from "../../proto/gen/nightshift/v1/model_store.ts";
import type { Logger } from "../../shared/log.ts";
import { NotFoundError, toServiceError, unary } from "../grpc/grpc-errors.ts";
import { checkSha256 } from "../../shared/assets/asset-ref.ts";
import { allocEncodedPart, MAX_PART_OVERHEAD, type EncodedModelPart } from "../../shared/assets/asset-part-codec.ts";
import { ASSET_PART_BYTES, AssetNotFoundError, type AssetStore } from "./asset-store.ts";
import { PartBufferPool } from "./part-buffer-pool.ts";

/** The ModelStore service as served with the part codec (MODEL_STORE_SERVICE): Fetch writes parts already encoded. */
export interface ModelStoreHandler extends UntypedServiceImplementation {
  fetch(call: ServerWritableStream<FetchModelRequest, ModelPart | EncodedModelPart>): void;
  stat: handleUnaryCall<StatAssetRequest, AssetStat>;
}

/**
 * gRPC edge of the asset store: Fetch streams an asset's bytes from the
 * offset the agent asks for, each part read from the file straight into its
 * encoded message (in a buffer reused once grpc-js has written it), pausing
 * when the HTTP/2 window is full (so a slow agent holds back the file reads,
 * not the coordinator's memory). Who may call is
 * the peer guard's business (enrolled, non-removed agents only).
 */
export function modelStoreHandler(store: AssetStore, log: Logger): ModelStoreHandler {
  return {
    fetch(call: ServerWritableStream<FetchModelRequest, ModelPart | EncodedModelPart>): void {
      const { sha256, offset, size } = call.request;
      // A cancelled call never drains: the abort ends a wait for it, and the loop's return closes the file.
      const cancelled = new AbortController();
      call.on("cancelled", () => cancelled.abort());
      const run = async (): Promise<void> => {
        checkSha256(sha256);
        // Each part's buffer goes back to the pool once grpc-js reports it written (it has framed its own copy by then).
        const pool = new PartBufferPool(ASSET_PART_BYTES + MAX_PART_OVERHEAD);
        const parts = store.readInto({ sha256, size }, offset, (at, n) => {
          const backing = pool.take();
          const { part, data } = allocEncodedPart(at, size, n, backing);
          return { into: data, part: { part, backing } };
        });
        for await (const { part, backing } of parts) {
          if (call.cancelled) return;
          const written = call.write(part, (err?: Error | null) => {
            if (!err) pool.give(backing);
          });
          if (!written) await once(call, "drain", { signal: cancelled.signal });
        }
        call.end();
      };
      run().catch((err: unknown) => {
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
