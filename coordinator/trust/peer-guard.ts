import { Metadata, ServerInterceptingCall, status, type ServerInterceptor } from "@grpc/grpc-js";
import type { Logger } from "../../shared/log.ts";
import type { Store } from "../store/store.ts";
import type { EnrollmentsTable } from "../store/enrollments-table.ts";
import { PeerRejectedError, type PeerIdentity } from "./peer-identity.ts";
import { PeerIdentityCache } from "./peer-identity-cache.ts";

/** Who may call a service: admins (the CLI) or enrolled agents. */
export type PeerRule = "admin" | "agent";

export interface PeerGuardDeps {
  readonly caPem: string;
  readonly store: Store;
  readonly enrollments: EnrollmentsTable;
  /** The fingerprint of the one certificate accepted for an admin name (coordinator/store/admin-certificates-table.ts). */
  readonly adminFingerprint: (name: string) => string | undefined;
  readonly log: Logger;
  /** Full service name ("nightshift.v1.Control") to rule; any other service is refused. */
  readonly rules: Readonly<Record<string, PeerRule>>;
}

type Verdict = { ok: true; peer: PeerIdentity } | { ok: false; code: status; details: string };

/**
 * A grpc-js server interceptor that checks the caller on every call, before
 * any handler runs. TLS already refused certificates not signed by the studio
 * CA; this adds what TLS cannot know: the agent is enrolled, not removed, and
 * presents the certificate issued to it (a re-issued or removed one is
 * refused), and it speaks only for itself (an `agentId` in a request, or in an
 * upload header, must be its own; an empty one is filled in).
 *
 * The certificate's verdict is cached (coordinator/trust/peer-identity-cache.ts:
 * per connection, expiry checked on every call); the store's verdict
 * (enrolled, not removed, still this certificate) is read on every call, in
 * one narrow statement (EnrollmentsTable#trustOf).
 *
 * A bidirectional stream (the agents' claim stream, their upload stream) is
 * a long conversation rather than one request: each of its messages that
 * names the agent (a claim, an upload's header, alone or in a whole upload) is checked as a new call
 * would be, so an agent removed while its stream is open is refused at its
 * very next claim or chunk, and the stream ends with the refusal's status.
 * An upload's frames name no agent and are not checked again.
 */
export function peerGuard(deps: PeerGuardDeps): ServerInterceptor {
  const cache = new PeerIdentityCache(deps.caPem);
  const identify = (certificate: { raw?: Buffer } | undefined): PeerIdentity => cache.identify(certificate);
  return (method, call) => {
    const service = method.path.split("/")[1] ?? "";
    const eachMessage = method.requestStream && method.responseStream;
    let peer: PeerIdentity | undefined;
    let refused = false;
    const refuse = (code: status, details: string): void => {
      refused = true;
      call.sendStatus({ code, details, metadata: new Metadata() });
    };
    return new ServerInterceptingCall(call, {
      start: (next) => {
        next({
          onReceiveMetadata: (metadata, mdNext) => {
            const verdict = check(deps, identify, service, call.getAuthContext()?.sslPeerCertificate, method.path, () => call.getPeer());
            if (!verdict.ok) return refuse(verdict.code, verdict.details);
            peer = verdict.peer;
            mdNext(metadata);
          },
          onReceiveMessage: (message, msgNext) => {
            if (refused) return;
            // Each unit of work on a bidirectional stream (a claim, an upload's header: a message naming the
            // agent) is checked as a new call would be; an upload's frames on the stream are not checked again.
            if (eachMessage && namesAgent(message)) {
              const verdict = check(deps, identify, service, call.getAuthContext()?.sslPeerCertificate, method.path, () => call.getPeer());
              if (!verdict.ok) return refuse(verdict.code, verdict.details);
              peer = verdict.peer;
            }
            if (peer?.kind === "agent" && !speaksForItself(message, peer.agentId)) {
              deps.log.warn({ agentId: peer.agentId, method: method.path, peer: call.getPeer() }, "agent refused: request names another agent");
              return refuse(status.PERMISSION_DENIED, `agent ${peer.agentId} may only act for itself`);
            }
            msgNext(message);
          },
          onReceiveHalfClose: (halfNext) => {
            if (!refused) halfNext();
          },
        });
      },
    });
  };
}

function check(
  deps: PeerGuardDeps,
  identify: (certificate: { raw?: Buffer } | undefined) => PeerIdentity,
  service: string,
  certificate: { raw?: Buffer } | undefined,
  path: string,
  /** The caller's address, for a refusal's log line only: grpc-js reads it through the HTTP/2 session's socket proxy on each ask. */
  address: () => string,
): Verdict {
  const rule = deps.rules[service];
  if (rule === undefined) return { ok: false, code: status.UNIMPLEMENTED, details: `no service ${service}` };
  let peer: PeerIdentity;
  try {
    peer = identify(certificate);
  } catch (err) {
    const reason = err instanceof PeerRejectedError ? err.reason : "bad-certificate";
    deps.log.warn({ method: path, peer: address(), reason }, "caller refused: no valid studio certificate");
    return { ok: false, code: status.UNAUTHENTICATED, details: `no valid studio client certificate (${reason})` };
  }
  if (rule === "admin") {
    if (peer.kind === "admin") {
      if (deps.adminFingerprint(peer.name) === peer.certFingerprint) return { ok: true, peer };
      deps.log.warn({ admin: peer.name, method: path, peer: address() }, "admin refused: certificate was rotated or never issued by this coordinator");
      return { ok: false, code: status.PERMISSION_DENIED, details: `admin certificate for ${peer.name} is no longer valid (rotated)` };
    }
    deps.log.warn({ agentId: peer.agentId, method: path, peer: address() }, "agent refused: admin call");
    return { ok: false, code: status.PERMISSION_DENIED, details: `${service} needs an admin certificate` };
  }
  if (peer.kind !== "agent") return { ok: false, code: status.PERMISSION_DENIED, details: `${service} is for agents` };
  const reason = agentRefusal(deps, peer);
  if (reason === undefined) return { ok: true, peer };
  const name = deps.store.agents.get(peer.agentId)?.name;
  deps.log.warn({ agentId: peer.agentId, name, method: path, peer: address(), reason }, "agent refused");
  return { ok: false, code: status.PERMISSION_DENIED, details: `agent ${peer.agentId} ${reason}` };
}

function agentRefusal(deps: PeerGuardDeps, peer: Extract<PeerIdentity, { kind: "agent" }>): string | undefined {
  const trust = deps.enrollments.trustOf(peer.agentId);
  if (!trust?.certFingerprint) return "is not enrolled";
  if (trust.removedAt !== null || trust.agentState === "removed") return "was removed";
  if (trust.certFingerprint !== peer.certFingerprint) return "presented a certificate that is no longer valid";
  return undefined;
}

/** The request itself and, for an upload message, its header (alone, or in a whole upload): where an agent id may be carried. */
function agentIdHolders(message: unknown): Array<Record<string, unknown>> {
  const holders: Array<Record<string, unknown>> = [];
  if (isRecord(message)) {
    holders.push(message);
    const body = message["body"];
    const value = isRecord(body) ? body["value"] : undefined;
    if (isRecord(body) && isRecord(value)) {
      if (body["$case"] === "header") holders.push(value);
      else if (body["$case"] === "whole" && isRecord(value["header"])) holders.push(value["header"]);
    }
  }
  return holders;
}

/** Whether a message carries an agent id (a request, an upload header): one unit of work. */
function namesAgent(message: unknown): boolean {
  return agentIdHolders(message).some((h) => typeof h["agentId"] === "string");
}

/** Checks (and fills when empty) the agent id a request or an upload header carries. */
function speaksForItself(message: unknown, agentId: string): boolean {
  for (const h of agentIdHolders(message)) {
    const claimed = h["agentId"];
    if (typeof claimed !== "string") continue;
    if (claimed === "") h["agentId"] = agentId;
    else if (claimed !== agentId) return false;
  }
  return true;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}
