import { createHash, X509Certificate } from "node:crypto";
import { Metadata, ServerInterceptingCall, status, type ServerInterceptor } from "@grpc/grpc-js";
import type { Logger } from "../../shared/log.ts";
import type { Store } from "../store/store.ts";
import type { EnrollmentsTable } from "../store/enrollments-table.ts";
import { identifyPeer, PeerRejectedError, type PeerIdentity } from "./peer-identity.ts";

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
 */
export function peerGuard(deps: PeerGuardDeps): ServerInterceptor {
  const ca = new X509Certificate(deps.caPem);
  const identify = cachedIdentify(ca);
  return (method, call) => {
    const service = method.path.split("/")[1] ?? "";
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
            const verdict = check(deps, identify, service, call.getAuthContext()?.sslPeerCertificate, method.path, call.getPeer());
            if (!verdict.ok) return refuse(verdict.code, verdict.details);
            peer = verdict.peer;
            mdNext(metadata);
          },
          onReceiveMessage: (message, msgNext) => {
            if (refused) return;
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

/**
 * Parsing and verifying the same client certificate on every call was the
 * coordinator's largest CPU cost under load. The verdict for a certificate is
 * cached by its sha256 for a minute (so expiry still takes effect within a
 * minute); revocation is not cached: agentRefusal asks the store on every call.
 */
function cachedIdentify(ca: X509Certificate, ttlMs = 60_000, max = 4096): (certificate: { raw?: Buffer } | undefined) => PeerIdentity {
  const verified = new Map<string, { peer: PeerIdentity; at: number }>();
  return (certificate) => {
    if (!certificate?.raw || certificate.raw.length === 0) return identifyPeer(certificate, ca);
    const key = createHash("sha256").update(certificate.raw).digest("hex");
    const now = Date.now();
    const hit = verified.get(key);
    if (hit && now - hit.at < ttlMs) return hit.peer;
    const peer = identifyPeer(certificate, ca);
    if (verified.size >= max) verified.clear();
    verified.set(key, { peer, at: now });
    return peer;
  };
}

function check(
  deps: PeerGuardDeps,
  identify: (certificate: { raw?: Buffer } | undefined) => PeerIdentity,
  service: string,
  certificate: { raw?: Buffer } | undefined,
  path: string,
  address: string,
): Verdict {
  const rule = deps.rules[service];
  if (rule === undefined) return { ok: false, code: status.UNIMPLEMENTED, details: `no service ${service}` };
  let peer: PeerIdentity;
  try {
    peer = identify(certificate);
  } catch (err) {
    const reason = err instanceof PeerRejectedError ? err.reason : "bad-certificate";
    deps.log.warn({ method: path, peer: address, reason }, "caller refused: no valid studio certificate");
    return { ok: false, code: status.UNAUTHENTICATED, details: `no valid studio client certificate (${reason})` };
  }
  if (rule === "admin") {
    if (peer.kind === "admin") {
      if (deps.adminFingerprint(peer.name) === peer.certFingerprint) return { ok: true, peer };
      deps.log.warn({ admin: peer.name, method: path, peer: address }, "admin refused: certificate was rotated or never issued by this coordinator");
      return { ok: false, code: status.PERMISSION_DENIED, details: `admin certificate for ${peer.name} is no longer valid (rotated)` };
    }
    deps.log.warn({ agentId: peer.agentId, method: path, peer: address }, "agent refused: admin call");
    return { ok: false, code: status.PERMISSION_DENIED, details: `${service} needs an admin certificate` };
  }
  if (peer.kind !== "agent") return { ok: false, code: status.PERMISSION_DENIED, details: `${service} is for agents` };
  const reason = agentRefusal(deps, peer);
  if (reason === undefined) return { ok: true, peer };
  const name = deps.store.agents.get(peer.agentId)?.name;
  deps.log.warn({ agentId: peer.agentId, name, method: path, peer: address, reason }, "agent refused");
  return { ok: false, code: status.PERMISSION_DENIED, details: `agent ${peer.agentId} ${reason}` };
}

function agentRefusal(deps: PeerGuardDeps, peer: Extract<PeerIdentity, { kind: "agent" }>): string | undefined {
  const enrollment = deps.enrollments.get(peer.agentId);
  if (!enrollment?.certFingerprint) return "is not enrolled";
  if (enrollment.removedAt !== null || deps.store.agents.stateOf(peer.agentId) === "removed") return "was removed";
  if (enrollment.certFingerprint !== peer.certFingerprint) return "presented a certificate that is no longer valid";
  return undefined;
}

/** Checks (and fills when empty) the agent id a request or an upload header carries. */
function speaksForItself(message: unknown, agentId: string): boolean {
  const holders: Array<Record<string, unknown>> = [];
  if (isRecord(message)) {
    holders.push(message);
    const body = message["body"];
    if (isRecord(body) && body["$case"] === "header" && isRecord(body["value"])) holders.push(body["value"]);
  }
  for (const h of holders) {
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
