import { BadInputError } from "../../shared/errors.ts";
import { assertAgentId } from "../../shared/tls/identity-names.ts";
import { agentInboxPrefix } from "../../shared/protocol/subjects.ts";

/**
 * What each agent may do on NATS (its subject permissions, signed into its
 * user JWT by coordinator/trust/nats-operator-keys.ts) and the client-port
 * TLS block of the embedded nats-server. Pure: same input, same output.
 */

export interface NatsTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile?: string;
  /** Require client certificates as well as passwords. */
  readonly verifyClients?: boolean;
}

export interface NatsWorkTopology {
  /** First token of every nightshift subject, e.g. "ns". */
  readonly subjectPrefix: string;
  /** JetStream stream holding chunk work. Default "NS_WORK". */
  readonly stream?: string;
  /** Shared pull consumer on `<prefix>.work.pool`. Default "pool". */
  readonly poolConsumer?: string;
}

export interface SubjectPermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

export const DEFAULT_WORK_STREAM = "NS_WORK";
export const DEFAULT_POOL_CONSUMER = "pool";

/** Durable pull consumer of one agent, filtered on `<prefix>.work.agent.<agentId>`. */
export function agentConsumerName(agentId: string): string {
  return `agent-${agentId}`;
}

/** Inbox prefix an agent must pass as the `inboxPrefix` connection option. */
export { agentInboxPrefix };

/**
 * What one agent may do. Every request it makes gets its reply on its own
 * inbox prefix, so no agent can subscribe to another's replies or deliveries;
 * replies to the coordinator's requests go through the response permission (one reply each).
 */
export function agentPermissions(topology: NatsWorkTopology, agentId: string): SubjectPermissions {
  assertAgentId(agentId);
  const p = checkedPrefix(topology.subjectPrefix);
  const stream = checkedName(topology.stream ?? DEFAULT_WORK_STREAM, "stream");
  const consumers = [agentConsumerName(agentId), checkedName(topology.poolConsumer ?? DEFAULT_POOL_CONSUMER, "poolConsumer")];
  return {
    publish: [
      `${p}.hb.${agentId}`,
      `${p}.telemetry.${agentId}`,
      ...consumers.flatMap((c) => [
        `$JS.API.CONSUMER.INFO.${stream}.${c}`,
        `$JS.API.CONSUMER.MSG.NEXT.${stream}.${c}`,
        `$JS.ACK.${stream}.${c}.>`,
      ]),
    ],
    subscribe: [`${p}.ctl.${agentId}`, `${agentInboxPrefix(agentId)}.>`],
  };
}

/** The client-port `tls { ... }` block: with it nats-server refuses clients that do not upgrade to TLS. */
export function renderNatsTls(tls: NatsTlsFiles): string {
  const body = [`cert_file: ${q(tls.certFile)}`, `key_file: ${q(tls.keyFile)}`];
  if (tls.caFile !== undefined) body.push(`ca_file: ${q(tls.caFile)}`);
  body.push(`verify: ${tls.verifyClients === true}`);
  return block("tls", body);
}

function block(name: string, body: readonly string[]): string {
  const head = name === "" ? "{" : `${name} {`;
  return [head, ...body.map((l) => indent(l)), "}"].join("\n");
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

function q(value: string): string {
  return JSON.stringify(value);
}

function checkedPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
    throw new BadInputError(`subject prefix "${prefix}" must be dot-separated letters, digits, "-" or "_"`, {
      field: "nats.subjectPrefix",
    });
  }
  return prefix;
}

function checkedName(name: string, field: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new BadInputError(`${field} "${name}" must be letters, digits, "-" or "_"`, { field: `nats.${field}` });
  }
  return name;
}
