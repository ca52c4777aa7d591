import { existsSync } from "node:fs";
import { join } from "node:path";
import { NatsOperatorKeys } from "../trust/nats-operator-keys.ts";
import { renderNatsResolverConfig } from "../trust/nats-resolver-config.ts";
import { NatsRevocationsTable } from "../store/nats-revocations-table.ts";
import { Store } from "../store/store.ts";

/**
 * The decentralized-auth block for the nodes of an external cluster, made by
 * `nightshift nats-cluster init` from the coordinator's data dir: the same
 * operator, system account and account JWTs the coordinator signs (its
 * `nats-operator/` seeds, created if new), the account JWT carrying the
 * revocations already in the store, if there is one. The coordinator pushes
 * a newer account JWT at every start and removal; a node's `full` resolver
 * keeps the newest, so this preload only matters for a node's first start.
 */
export async function clusterAuthFor(dataDir: string, storePath = join(dataDir, "nightshift.db")): Promise<(resolverDir: string) => string> {
  const keys = await NatsOperatorKeys.open(dataDir);
  let revocations: Record<string, number> = {};
  if (existsSync(storePath)) {
    const store = Store.open(storePath);
    try {
      revocations = new NatsRevocationsTable(store.db).asClaims();
    } finally {
      store.close();
    }
  }
  const operatorJwt = await keys.operatorJwt();
  const preload = { [keys.systemAccountPublicKey]: await keys.systemAccountJwt(), [keys.accountPublicKey]: await keys.accountJwt(revocations) };
  return (resolverDir) => renderNatsResolverConfig({ operatorJwt, systemAccount: keys.systemAccountPublicKey, resolverDir, preload });
}
