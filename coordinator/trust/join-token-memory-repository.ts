import type { JoinTokenRecord, JoinTokenRepository } from "./join-tokens.ts";

/** JoinTokenRepository in memory: for tests and for a coordinator run without a store. */
export class MemoryJoinTokenRepository implements JoinTokenRepository {
  private readonly records = new Map<string, JoinTokenRecord>();

  insert(record: JoinTokenRecord): void {
    if (this.records.has(record.hash)) throw new Error("join token hash already stored");
    this.records.set(record.hash, record);
  }

  findByHash(hash: string): JoinTokenRecord | undefined {
    return this.records.get(hash);
  }

  markUsed(hash: string, at: number): boolean {
    const record = this.records.get(hash);
    if (record === undefined) return false;
    if (!record.multiUse && record.usedAt !== null) return false;
    this.records.set(hash, { ...record, usedAt: record.usedAt ?? at, useCount: record.useCount + 1 });
    return true;
  }

  /** Every stored record (hashes only), for assertions. */
  all(): JoinTokenRecord[] {
    return [...this.records.values()];
  }
}
