import { status, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import type { FetchModelRequest, ModelPart } from "../../proto/gen/nightshift/v1/model_store.ts";
import { AssetUnavailableError, type AssetRef } from "../../shared/assets/asset-ref.ts";
import type { AssetSource } from "../assets/asset-cache.ts";
import { redialled } from "./service-error.ts";

/** Refusals that a retry cannot change: the store lacks the asset, or this agent may not fetch. */
const PERMANENT = new Set<number>([status.NOT_FOUND, status.PERMISSION_DENIED, status.UNAUTHENTICATED, status.INVALID_ARGUMENT, status.UNIMPLEMENTED]);

/** Where fetches are made: the agent's CoordinatorClient (agent/grpc/gateway-client.ts fetchAsset). */
export interface AssetFetcher {
  fetchAsset(req: FetchModelRequest): ClientReadableStream<ModelPart>;
}

/**
 * The asset cache's source over gRPC: ModelStore.Fetch from an offset. Parts
 * must arrive in order and contiguous; a gap or an overlap breaks the
 * transfer (the cache then resumes from what it has written). A fetch the
 * client cancelled for new connections (a redial) fails as a broken
 * connection's, so the cache resumes on the new one.
 */
export function storeAssetSource(client: AssetFetcher): AssetSource {
  return {
    async *fetch(ref: AssetRef, offset: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
      const call = client.fetchAsset({ sha256: ref.sha256, offset, size: ref.size });
      const onAbort = (): void => call.cancel();
      signal?.addEventListener("abort", onAbort, { once: true });
      let at = offset;
      try {
        for await (const part of call as AsyncIterable<ModelPart>) {
          if (part.offset !== at || part.totalSize !== ref.size) throw new Error(`asset part at ${part.offset} of ${part.totalSize}, expected ${at} of ${ref.size}`);
          at += part.data.length;
          yield part.data;
        }
      } catch (err) {
        const code = (err as Partial<ServiceError>).code;
        if (code !== undefined && PERMANENT.has(code)) throw new AssetUnavailableError((err as Error).message, { cause: err });
        // Cancelled, and not by the caller's signal: by a redial (CoordinatorClient.redial).
        if (code === status.CANCELLED && signal?.aborted !== true) throw Object.assign(redialled(), { cause: err });
        throw err;
      } finally {
        signal?.removeEventListener("abort", onAbort);
        call.cancel();
      }
    },
  };
}
