import type { Clock } from "../../shared/clock.ts";
import { BadInputError } from "../../shared/errors.ts";
import { parseManifest } from "../../shared/model-manifest/manifest-load.ts";
import { modelManifestSchema } from "../../shared/model-manifest/manifest-schema.ts";
import { NotFoundError } from "../grpc/grpc-errors.ts";
import type { ModelRow } from "../store/models-table.ts";
import type { Store } from "../store/store.ts";
import type { AssetStore } from "./asset-store.ts";

export interface AddModelHeader {
  name: string;
  manifestJson: string;
  license: string;
  source: string;
  size: number;
}

/** SPDX expressions as people write them: ids joined by AND/OR/WITH, parentheses; no spaces elsewhere. */
const SPDX = /^[A-Za-z0-9.+\-()]+( (AND|OR|WITH) [A-Za-z0-9.+\-()]+)*$/;

/**
 * The model store: names over content hashes, with each model's manifest,
 * licence and source (`nightshift models add|list|rm`). The bytes go into the
 * asset store, verified against the manifest's sha256 before the name exists;
 * removing the last name of a hash removes its bytes, unless a job that can
 * still run names them: then the asset collector removes them once nothing
 * does.
 */
export class ModelCatalog {
  constructor(
    private readonly store: Store,
    private readonly assets: AssetStore,
    private readonly clock: Clock,
    /** Whether a job that can still run needs the bytes: then `models rm` leaves them to the collector. */
    private readonly stillNeeded: (sha256: string) => boolean = () => false,
  ) {}

  async add(header: AddModelHeader, data: AsyncIterable<Uint8Array>): Promise<ModelRow> {
    const name = checkName(header.name);
    if (header.license !== "" && (header.license.length > 200 || !SPDX.test(header.license))) {
      throw new BadInputError(`--license: '${header.license.slice(0, 80)}' is not an SPDX licence expression (e.g. MIT, Apache-2.0, CC-BY-4.0)`, { field: "license" });
    }
    if (header.source !== "") checkSourceUrl(header.source);
    let raw: unknown;
    try {
      raw = JSON.parse(header.manifestJson);
    } catch (err) {
      throw new BadInputError("model manifest: not valid JSON", { field: "manifest", cause: err });
    }
    const manifest = parseManifest({ ...(raw as object), name }, `manifest of model '${name}'`);
    const ref = await this.assets.put(data, { sha256: manifest.sha256, size: header.size }).catch((err: unknown) => {
      throw new BadInputError(`model '${name}': the uploaded bytes are not the ones its manifest names (${(err as Error).message})`, { field: "file", cause: err });
    });
    const row: ModelRow = { name, sha256: ref.sha256, size: ref.size, manifestJson: JSON.stringify(manifest), license: header.license, source: header.source, addedAt: this.clock() };
    const replaced = this.store.models.byName(name);
    this.store.models.put(row);
    if (replaced && replaced.sha256 !== row.sha256) await this.dropIfUnused(replaced.sha256);
    return row;
  }

  list(): ModelRow[] {
    return this.store.models.list();
  }

  /** The model called `name`, or (a job naming a model by hash) the one with that sha256. */
  find(name: string, sha256?: string | null): ModelRow | undefined {
    return this.store.models.byName(name) ?? (sha256 ? this.store.models.bySha(sha256) : undefined);
  }

  async remove(name: string): Promise<ModelRow> {
    const row = this.store.models.byName(checkName(name));
    if (!row) throw new NotFoundError(`no model '${name}' in the store (see \`nightshift models list\`)`);
    this.store.models.remove(name);
    await this.dropIfUnused(row.sha256);
    return row;
  }

  private async dropIfUnused(sha256: string): Promise<void> {
    if (!this.store.models.bySha(sha256) && !this.stillNeeded(sha256)) await this.assets.remove(sha256);
  }
}

function checkName(name: string): string {
  const parsed = modelManifestSchema.shape.name.safeParse(name);
  if (!parsed.success) throw new BadInputError(`--name: '${name.slice(0, 80)}' ${parsed.error.issues[0]?.message ?? "is not a model name"}`, { field: "name" });
  return parsed.data;
}

function checkSourceUrl(source: string): void {
  let url: URL | undefined;
  try {
    url = new URL(source);
  } catch {
    url = undefined;
  }
  if (!url || !["http:", "https:"].includes(url.protocol) || source.length > 2000) {
    throw new BadInputError(`--source: '${source.slice(0, 80)}' is not an http(s) URL`, { field: "source" });
  }
}
