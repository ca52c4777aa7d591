import { BadInputError } from "../../shared/errors.ts";

/**
 * Renders the part of a nats-server (2.9+) config that turns on NATS
 * decentralized authentication: trust the nightshift operator, name the
 * system account, keep account JWTs in a `full` resolver (a folder of its
 * own, updated live through `$SYS.REQ.CLAIMS.UPDATE` and shared between the
 * servers of a cluster), and preload the accounts so a fresh server needs no
 * push before the first client. The same text serves the embedded server and
 * each node of a cluster. Nothing in it is secret: JWTs and public keys only.
 */

export interface NatsResolverConfigInput {
  readonly operatorJwt: string;
  readonly systemAccount: string;
  /** Folder where the server keeps account JWTs (one per server). */
  readonly resolverDir: string;
  /** Account public key -> account JWT, loaded at start (a newer one already in the folder wins). */
  readonly preload: Readonly<Record<string, string>>;
}

export function renderNatsResolverConfig(input: NatsResolverConfigInput): string {
  const jwtShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
  if (!jwtShape.test(input.operatorJwt)) throw new BadInputError("operator JWT is not a JWT", { field: "nats.operatorJwt" });
  const accountKey = (key: string, field: string): string => {
    if (!/^A[A-Z2-7]{55}$/.test(key)) throw new BadInputError(`"${key.slice(0, 8)}..." is not a NATS account public key`, { field });
    return key;
  };
  const preload = Object.entries(input.preload).map(([key, jwt]) => {
    if (!jwtShape.test(jwt)) throw new BadInputError(`account JWT for ${key.slice(0, 8)}... is not a JWT`, { field: "nats.preload" });
    return `  ${accountKey(key, "nats.preload")}: ${JSON.stringify(jwt)}`;
  });
  // interval: how often each server compares its account JWTs with another's and takes the newer. A node that was
  // down while a revocation was pushed catches up within this (5.3 s measured, test/integration/trust-nats-jwt-cluster.test.ts);
  // with nats-server's default (2 min) it still admitted the removed agent 30 s after coming back.
  return [
    `operator: ${JSON.stringify(input.operatorJwt)}`,
    `system_account: ${accountKey(input.systemAccount, "nats.systemAccount")}`,
    `resolver: {`,
    `  type: full`,
    `  dir: ${JSON.stringify(input.resolverDir)}`,
    `  allow_delete: false`,
    `  interval: "5s"`,
    `  timeout: "5s"`,
    `}`,
    `resolver_preload: {`,
    ...preload,
    `}`,
  ].join("\n");
}
