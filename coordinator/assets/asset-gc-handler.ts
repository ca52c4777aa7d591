import type { CollectAssetsRequest, CollectAssetsResponse, ControlServer, ListAssetsRequest, ListAssetsResponse } from "../../proto/gen/nightshift/v1/control.ts";
import { unary } from "../grpc/grpc-errors.ts";
import type { AssetCollector } from "./asset-collector.ts";

/**
 * `nightshift assets gc [--dry-run]` (admin certificate only): one collection of the asset store
 * (asset-collector.ts); `nightshift assets list`: every blob with what names it (asset-listing.ts).
 */
export function assetGcHandler(collector: AssetCollector): Pick<ControlServer, "collectAssets" | "listAssets"> {
  return {
    collectAssets: unary<CollectAssetsRequest, CollectAssetsResponse>((req) => collector.collect({ dryRun: req.dryRun })),
    listAssets: unary<ListAssetsRequest, ListAssetsResponse>(() => ({ assets: collector.list() })),
  };
}
