import type { Db } from "./open-database.ts";

/** One model in the coordinator's model store: its name, its bytes by content hash, and its manifest. */
export interface ModelRow {
  name: string;
  sha256: string;
  size: number;
  /** The model manifest (shared/model-manifest) as JSON. */
  manifestJson: string;
  /** SPDX licence id, "" when not given. */
  license: string;
  /** Where the weights came from, "" when not given. */
  source: string;
  addedAt: number;
}

const COLUMNS = `name, sha256, size, manifest_json AS manifestJson, license, source, added_at AS addedAt`;

/** The model store's catalog: names over content hashes (the bytes are in coordinator/assets/). */
export class ModelsTable {
  /** Bumped by every write of this table (also when its transaction rolls back): readers that cache what it says compare it. */
  revision = 0;

  constructor(private readonly db: Db) {}

  /** Adds or replaces the model called `row.name`. */
  put(row: ModelRow): void {
    this.revision++;
    this.db
      .prepare(
        `INSERT INTO models (name, sha256, size, manifest_json, license, source, added_at) VALUES (@name, @sha256, @size, @manifestJson, @license, @source, @addedAt)
         ON CONFLICT(name) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size, manifest_json = excluded.manifest_json,
           license = excluded.license, source = excluded.source, added_at = excluded.added_at`,
      )
      .run(row);
  }

  byName(name: string): ModelRow | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM models WHERE name = ?`).get(name) as ModelRow | undefined;
  }

  bySha(sha256: string): ModelRow | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM models WHERE sha256 = ? ORDER BY name LIMIT 1`).get(sha256) as ModelRow | undefined;
  }

  list(): ModelRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM models ORDER BY name`).all() as ModelRow[];
  }

  remove(name: string): boolean {
    this.revision++;
    return this.db.prepare(`DELETE FROM models WHERE name = ?`).run(name).changes > 0;
  }
}
