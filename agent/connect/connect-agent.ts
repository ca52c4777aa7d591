import { BadInputError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import type { Discovery } from "../../shared/discovery/discovery.ts";
import { parseHostPort } from "../../shared/host-port.ts";
import type { AgentKeys } from "../trust/agent-keys.ts";
import { loadAgentCredentials, type AgentCredentials } from "../trust/agent-credentials.ts";
import { assertPin, fetchPinnedCa, fingerprintMatches, presentedCaFingerprint } from "../trust/ca-pinning.ts";
import { enrollAgent } from "./enroll-agent.ts";
import { findCoordinators, type CoordinatorAdvert } from "./find-coordinator.ts";

export interface ConnectAgentOptions {
  readonly dataDir: string;
  readonly keys: AgentKeys;
  readonly name: string;
  readonly gpus: ReadonlyArray<{ name: string; vramBytes: number }>;
  /** host:port of the coordinator's gRPC; skips discovery. */
  readonly coordinator?: string;
  /** host:port of the enrollment listener; default the coordinator's port + 1 (or the mDNS `enroll` field). */
  readonly enroll?: string;
  readonly joinToken?: string;
  /** Pin for the first enrollment (from `nightshift token create`); default: the mDNS TXT hint, or trust on first use. */
  readonly caFingerprint?: string;
  /** Needed when `coordinator` is not given. */
  readonly discovery?: Discovery;
  /** How long to browse for the coordinator. Default 5 s. */
  readonly discoveryTimeoutMs?: number;
  /** Description of where mDNS looked, for messages ("interface 10.0.0.5"). */
  readonly discoveryScope?: string;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  readonly onPending?: (agentId: string, message: string) => void;
}

export interface AgentConnection {
  /** gRPC host:port of the coordinator (mutual TLS with `credentials`). */
  readonly address: string;
  readonly credentials: AgentCredentials;
  /** True when this call enrolled the agent; false when it reused stored credentials. */
  readonly enrolledNow: boolean;
}

/**
 * Where the agent's coordinator is and with which credentials it talks to
 * it. An enrolled agent reuses its key, certificate and pinned CA and accepts
 * only a coordinator that proves that CA, whatever else advertises on the
 * LAN. A new agent enrolls: with --coordinator directly, otherwise with the
 * coordinator found by mDNS (pinned by --ca-fingerprint, or by the TXT hint
 * when exactly one studio CA is advertised).
 */
export async function connectAgent(o: ConnectAgentOptions): Promise<AgentConnection> {
  if (o.caFingerprint !== undefined) assertPin(o.caFingerprint, "caFingerprint");
  const stored = await loadAgentCredentials(o.dataDir);
  if (stored) return { address: await reachEnrolled(o, stored), credentials: stored, enrolledNow: false };
  if (o.coordinator !== undefined) {
    const { host, port } = parseHostPort(o.coordinator, "coordinator");
    const enroll = o.enroll !== undefined ? parseHostPort(o.enroll, "enroll") : { host, port: port + 1 };
    let pin = o.caFingerprint;
    if (pin === undefined) {
      pin = await presentedCaFingerprint({ host: enroll.host, port: enroll.port });
      o.log.warn({ ca: pin, coordinator: o.coordinator }, "no --ca-fingerprint: trusting the coordinator's CA on first use");
    }
    const credentials = await enrollAgent({ ...enrollArgs(o), host: enroll.host, port: enroll.port, pin });
    return { address: o.coordinator, credentials, enrolledNow: true };
  }
  const found = await discover(o, o.caFingerprint);
  if (o.caFingerprint === undefined) {
    const cas = new Set(found.map((c) => c.caFingerprint));
    if (cas.size > 1) {
      throw new BadInputError(
        `several coordinators with different studio CAs advertise on this LAN (${describe(found)}); pass --ca-fingerprint (printed by \`nightshift token create\`) to choose`,
        { field: "caFingerprint" },
      );
    }
  }
  for (const c of found) {
    const pin = o.caFingerprint ?? c.caFingerprint;
    try {
      const credentials = await enrollAgent({ ...enrollArgs(o), host: c.host, port: c.enrollPort, pin });
      return { address: joinHostPort(c.host, c.grpcPort), credentials, enrolledNow: true };
    } catch (err) {
      if (err instanceof BadInputError || o.signal?.aborted) throw err;
      o.log.warn({ host: c.host, port: c.enrollPort, err: (err as Error).message }, "coordinator candidate refused: cannot prove the pinned CA");
    }
  }
  throw new Error(`no coordinator on the LAN proved the studio CA ${(o.caFingerprint ?? found[0]?.caFingerprint ?? "").slice(0, 16)}… (tried ${describe(found)})`);
}

/** An enrolled agent: --coordinator as given, or the first advertised coordinator that proves the pinned CA. */
async function reachEnrolled(o: ConnectAgentOptions, stored: AgentCredentials): Promise<string> {
  if (o.caFingerprint !== undefined && !fingerprintMatches(stored.caFingerprint, o.caFingerprint)) {
    throw new BadInputError(
      `this agent is enrolled with studio CA ${stored.caFingerprint.slice(0, 16)}…, not ${o.caFingerprint}; to move it to another studio, empty its data dir (${o.dataDir}) and enroll again`,
      { field: "caFingerprint" },
    );
  }
  if (o.joinToken) o.log.info({ agentId: stored.agentId }, "already enrolled: --join-token not used");
  if (o.coordinator !== undefined) return o.coordinator;
  const found = await discover(o, stored.caFingerprint);
  for (const c of found) {
    try {
      // The enrollment listener shows the same server certificate without asking for ours.
      await fetchPinnedCa({ host: c.host, port: c.enrollPort, pin: stored.caFingerprint });
      return joinHostPort(c.host, c.grpcPort);
    } catch (err) {
      o.log.warn({ host: c.host, port: c.enrollPort, err: (err as Error).message }, "coordinator candidate refused: cannot prove the studio CA");
    }
  }
  throw new Error(`no coordinator on the LAN proved this agent's studio CA ${stored.caFingerprint.slice(0, 16)}… (tried ${describe(found)})`);
}

async function discover(o: ConnectAgentOptions, pin: string | undefined): Promise<CoordinatorAdvert[]> {
  if (o.discovery === undefined) {
    throw new BadInputError("no coordinator: pass --coordinator HOST:PORT, or leave mDNS on to find it", { field: "coordinator" });
  }
  const timeoutMs = o.discoveryTimeoutMs ?? 5000;
  const { matching, others } = await findCoordinators({ discovery: o.discovery, ...(pin ? { pin } : {}), timeoutMs, log: o.log });
  if (matching.length > 0) return matching;
  const where = o.discoveryScope ?? "every LAN interface";
  if (others.length > 0) {
    throw new Error(
      `found ${others.length} coordinator(s) by mDNS on ${where}, none with the studio CA ${pin?.slice(0, 16)}…: ${describe(others)}; pass --coordinator HOST:PORT if yours does not advertise`,
    );
  }
  throw new Error(
    `no nightshift coordinator answered mDNS within ${Math.round(timeoutMs / 1000)} s on ${where}: is the coordinator running with mDNS on this network (multicast 224.0.0.251:5353 allowed)? Or pass --coordinator HOST:PORT`,
  );
}

function enrollArgs(o: ConnectAgentOptions) {
  return {
    dataDir: o.dataDir,
    keys: o.keys,
    ...(o.joinToken ? { joinToken: o.joinToken } : {}),
    name: o.name,
    gpus: o.gpus,
    log: o.log,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onPending ? { onPending: o.onPending } : {}),
  };
}

function joinHostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

function describe(list: readonly CoordinatorAdvert[]): string {
  return list.map((c) => `${joinHostPort(c.host, c.grpcPort)} CA ${c.caFingerprint.slice(0, 16)}…`).join(", ") || "none";
}
