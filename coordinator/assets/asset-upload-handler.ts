import type { AssetList, AssetRef as WireAssetRef, ControlServer, PutAssetMessage } from "../../proto/gen/nightshift/v1/control.ts";
import { checkSha256 } from "../../shared/assets/asset-ref.ts";
import { BadInputError } from "../../shared/errors.ts";
import { MAX_TREE_FILES } from "../../shared/assets/scene-tree.ts";
import { unary } from "../grpc/grpc-errors.ts";
import { headerThenData } from "../grpc/header-then-data.ts";
import type { AssetStore } from "./asset-store.ts";

/**
 * The scene-transfer part of the Control service (admin certificate only):
 * `nightshift submit` of a Blender job asks which of its scene's files the
 * store lacks, then streams each missing one. The bytes are hashed as they
 * are written and installed under their sha256 only when it and the size
 * match the header, so a client names nothing but content.
 */
export function assetUploadHandler(assets: AssetStore): Pick<ControlServer, "missingAssets" | "putAsset"> {
  return {
    missingAssets: unary<AssetList, AssetList>((req) => {
      if (req.assets.length > MAX_TREE_FILES) throw new BadInputError(`MissingAssets: at most ${MAX_TREE_FILES} assets at once`, { field: "assets" });
      // What the store has is claimed: kept from the collector until the submit that follows names it.
      return { assets: req.assets.filter((a) => !assets.claim({ sha256: checkSha256(a.sha256, "assets.sha256"), size: a.size })) };
    }),
    putAsset: headerThenData<WireAssetRef, PutAssetMessage, WireAssetRef>("PutAsset", (header, data) =>
      assets.put(data, { sha256: checkSha256(header.sha256, "header.sha256"), size: header.size }),
    ),
  };
}
