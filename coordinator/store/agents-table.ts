import type { Db } from "./open-database.ts";
import { assertTransition } from "../../shared/lifecycle/state-machine.ts";
import { AGENT_TRANSITIONS, type AgentState } from "../../shared/lifecycle/states.ts";
import type { KindCapability } from "../../shared/steps/kind-capability.ts";
import { parseJsonOnce, parseKindsOnce } from "./parsed-columns.ts";

export interface GpuRecord {
  name: string;
  vramBytes: number;
  uuid?: string;
}

export interface AgentRow {
  id: string;
  name: string;
  state: AgentState;
  version: string;
  gpus: GpuRecord[];
  ramBytes: number;
  cpuCount: number;
  tags: string[];
  /** What the agent can run, per step kind (executors_json). */
  kinds: KindCapability[];
  address: string;
  firstSeen: number;
  lastSeen: number;
}

/** What the registry's liveness rules read of an agent on every heartbeat and sweep: no JSON columns to read or parse. */
export type AgentLiveness = Pick<AgentRow, "id" | "name" | "state" | "address" | "lastSeen">;

const LIVENESS_COLUMNS = `id, name, state, address, last_seen AS lastSeen`;

interface RawAgent extends Omit<AgentRow, "gpus" | "tags" | "kinds"> {
  gpusJson: string;
  tagsJson: string;
  executorsJson: string;
}

const COLUMNS = `id, name, state, version, gpus_json AS gpusJson, ram_bytes AS ramBytes, cpu_count AS cpuCount,
  tags_json AS tagsJson, executors_json AS executorsJson, address, first_seen AS firstSeen, last_seen AS lastSeen`;

function fromRaw(r: RawAgent): AgentRow {
  const { gpusJson, tagsJson, executorsJson, ...rest } = r;
  return { ...rest, gpus: parseJsonOnce<GpuRecord[]>(gpusJson), tags: parseJsonOnce<string[]>(tagsJson), kinds: parseKindsOnce(executorsJson) };
}

export class AgentsTable {
  constructor(private readonly db: Db) {}

  /** Inserts a new agent or refreshes what it says about itself; state is left to transition(). */
  upsert(a: Omit<AgentRow, "state" | "firstSeen" | "lastSeen"> & { state: AgentState; now: number }): AgentRow {
    this.db
      .prepare(
        `INSERT INTO agents (id, name, state, version, gpus_json, ram_bytes, cpu_count, tags_json, executors_json, address, first_seen, last_seen)
         VALUES (@id, @name, @state, @version, @gpusJson, @ramBytes, @cpuCount, @tagsJson, @executorsJson, @address, @now, @now)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, version = excluded.version, gpus_json = excluded.gpus_json,
           ram_bytes = excluded.ram_bytes, cpu_count = excluded.cpu_count, tags_json = excluded.tags_json,
           executors_json = excluded.executors_json, address = excluded.address, last_seen = excluded.last_seen`,
      )
      .run({
        id: a.id,
        name: a.name,
        state: a.state,
        version: a.version,
        gpusJson: JSON.stringify(a.gpus),
        ramBytes: a.ramBytes,
        cpuCount: a.cpuCount,
        tagsJson: JSON.stringify(a.tags),
        executorsJson: JSON.stringify(a.kinds),
        address: a.address,
        now: a.now,
      });
    return this.get(a.id) as AgentRow;
  }

  get(id: string): AgentRow | undefined {
    const r = this.db.prepare(`SELECT ${COLUMNS} FROM agents WHERE id = ?`).get(id) as RawAgent | undefined;
    return r ? fromRaw(r) : undefined;
  }

  /** get() narrowed to the liveness columns (the registry's heartbeat: a fifth of get()'s CPU). */
  liveness(id: string): AgentLiveness | undefined {
    return this.db.prepare(`SELECT ${LIVENESS_COLUMNS} FROM agents WHERE id = ?`).get(id) as AgentLiveness | undefined;
  }

  /** The liveness columns of every agent in `state`, in list() order (the registry's sweep). */
  listLiveness(state: AgentState): AgentLiveness[] {
    return this.db.prepare(`SELECT ${LIVENESS_COLUMNS} FROM agents WHERE state = ? ORDER BY name, id`).all(state) as AgentLiveness[];
  }

  /** Deletes agents only ever seen by mDNS (no enrollment row: never asked, never approved) whose last advert is older than `before`; returns their ids. */
  deleteStaleDiscovered(before: number): string[] {
    const rows = this.db
      .prepare(
        `DELETE FROM agents WHERE state = 'discovered' AND last_seen < ?
           AND id NOT IN (SELECT agent_id FROM agent_enrollments) RETURNING id`,
      )
      .all(before) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  list(): AgentRow[] {
    return (this.db.prepare(`SELECT ${COLUMNS} FROM agents ORDER BY name, id`).all() as RawAgent[]).map(fromRaw);
  }

  touch(id: string, now: number): void {
    this.db.prepare(`UPDATE agents SET last_seen = ? WHERE id = ?`).run(now, id);
  }

  /** touch() of many agents in one transaction (one commit, one fsync): the registry's batched heartbeats. */
  touchMany(lastSeen: ReadonlyMap<string, number>): void {
    const update = this.db.prepare(`UPDATE agents SET last_seen = ? WHERE id = ?`);
    this.db.transaction(() => {
      for (const [id, now] of lastSeen) update.run(now, id);
    })();
  }

  /** The one place an agent changes state. */
  transition(id: string, to: AgentState): AgentRow {
    const a = this.get(id);
    if (!a) throw new Error(`no agent ${id}`);
    if (a.state !== to) assertTransition(`agent ${id}`, AGENT_TRANSITIONS, a.state, to);
    this.db.prepare(`UPDATE agents SET state = ? WHERE id = ?`).run(to, id);
    return { ...a, state: to };
  }
}
