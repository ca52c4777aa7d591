import type { Db } from "./open-database.ts";

/**
 * Why this file exists: the peer guard (coordinator/trust/peer-guard.ts) asks
 * on every gRPC call whether the calling agent is still enrolled, not
 * removed, and still holds this certificate. This is a value that changes
 * whenever that answer may have changed, so an accepted verdict can be kept
 * per connection and re-read only then. It must see every write:
 *
 * - writes on this connection, whatever code makes them: TEMP triggers (this
 *   connection's only; the CLI and other processes never see them) on
 *   agent_enrollments (insert, update, delete) and on agents (insert,
 *   delete, and an update of `state`) call a function that bumps a counter.
 *   A rolled-back write has bumped it too, which only costs one re-read;
 * - commits by any other connection (the CLI's store, another process):
 *   SQLite's `PRAGMA data_version`, which changes when another connection
 *   committed anything since this one last asked, read on every call.
 *
 * The pragma still opens a read transaction, so the saving is the trust
 * row's two lookups, not the read itself (README, "Per-call cost of the
 * claim and upload calls").
 */
export interface TrustRevision {
  /** Equal on two calls only when no write that could change an agent's trust was made in between. */
  current(): string;
}

const FUNCTION = "nightshift_trust_written";

/** Which writes bump the counter: every write of the enrollments, and the agents' rows and states. */
const TRIGGERS: ReadonlyArray<readonly [name: string, event: string, table: string]> = [
  ["nightshift_trust_enrollment_insert", "INSERT", "agent_enrollments"],
  ["nightshift_trust_enrollment_update", "UPDATE", "agent_enrollments"],
  ["nightshift_trust_enrollment_delete", "DELETE", "agent_enrollments"],
  ["nightshift_trust_agent_insert", "INSERT", "agents"],
  ["nightshift_trust_agent_state", "UPDATE OF state", "agents"],
  ["nightshift_trust_agent_delete", "DELETE", "agents"],
];

/** One per connection: a second one would take over the counter's function and leave the first blind. */
const revisions = new WeakMap<Db, TrustRevision>();

export function trustRevisionOf(db: Db): TrustRevision {
  let r = revisions.get(db);
  if (r === undefined) {
    r = watch(db);
    revisions.set(db, r);
  }
  return r;
}

function watch(db: Db): TrustRevision {
  let own = 0;
  db.function(FUNCTION, { deterministic: false }, () => {
    own++;
    return null;
  });
  for (const [name, event, table] of TRIGGERS) {
    db.exec(`CREATE TEMP TRIGGER IF NOT EXISTS ${name} AFTER ${event} ON main.${table} BEGIN SELECT ${FUNCTION}(); END`);
  }
  const dataVersion = db.prepare("PRAGMA main.data_version");
  return {
    current: () => `${own}:${(dataVersion.get() as { data_version: number }).data_version}`,
  };
}
