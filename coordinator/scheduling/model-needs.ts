import { listModels } from "../../shared/model-manifest/model-registry.ts";

/**
 * Memory needs of the models in the coordinator's models directory, from
 * their manifests (memoryBytes), by name and sha256. Re-read when a job names
 * a model not seen yet, at most every `minRefreshMs`.
 */
export class ModelNeeds {
  private readonly byName = new Map<string, { sha256: string; memoryBytes: number }>();
  private readonly bySha = new Map<string, number>();
  private lastRefresh = -Infinity;
  /** Bumped on every re-read of the models directory (what memoryOf answers may have changed). */
  revision = 0;

  constructor(
    private readonly modelsDir: string,
    private readonly minRefreshMs = 10_000,
  ) {}

  async refreshIfUnknown(models: ReadonlyArray<{ name: string; sha256: string }>, now: number): Promise<void> {
    if (models.every((m) => this.byName.get(m.name)?.sha256 === m.sha256) || now - this.lastRefresh < this.minRefreshMs) return;
    this.lastRefresh = now;
    for (const l of await listModels(this.modelsDir).catch(() => [])) {
      if (!l.ok) continue;
      const m = l.model.manifest;
      this.byName.set(m.name, { sha256: m.sha256, memoryBytes: m.memoryBytes });
      this.bySha.set(m.sha256, m.memoryBytes);
    }
    this.revision++;
  }

  /** The model's memory need in bytes; null when its manifest (with this sha256) is not known. */
  memoryOf(name: string, sha256: string): number | null {
    const m = this.byName.get(name);
    return m && m.sha256 === sha256 ? m.memoryBytes : (this.bySha.get(sha256) ?? null);
  }

  needOfSha = (sha256: string): number | null => this.bySha.get(sha256) ?? null;
}
