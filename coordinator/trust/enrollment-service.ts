import type { Store } from "../store/store.ts";
import type { AgentRow } from "../store/agents-table.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import { BadInputError } from "../../shared/errors.ts";
import { agentIdForPublicKey } from "../../shared/tls/agent-id.ts";
import { certificateFingerprint } from "../../shared/tls/pem-keys.ts";
import { NotFoundError } from "../grpc/grpc-errors.ts";
import type { StudioTrust } from "./studio-trust.ts";
import { DEFAULT_ENROLLMENT_LIMITS, EnrollmentThrottle, peerAddress, type EnrollmentLimits } from "./enrollment-throttle.ts";

export type EnrollmentRefusal = "unknown" | "used" | "expired" | "removed" | "busy";

/** The coordinator says no to an enrollment; `refusal` travels to the agent in gRPC metadata. */
export class EnrollmentRefusedError extends Error {
  override readonly name = "EnrollmentRefusedError";
  constructor(
    readonly refusal: EnrollmentRefusal,
    message: string,
  ) {
    super(message);
  }
}

export interface EnrollInput {
  readonly publicKeyPem: string;
  /** Empty: ask for approval. */
  readonly joinToken: string;
  readonly name: string;
  readonly version: string;
  readonly gpus: ReadonlyArray<{ name: string; vramBytes: number }>;
  /** Network address of the caller, for the log. */
  readonly peer: string;
}

export type EnrollOutcome =
  | { status: "enrolled"; agentId: string; certPem: string; caPem: string; message: string }
  | { status: "pending"; agentId: string; certPem: ""; caPem: string; message: string };

export interface AgentDecisionView {
  agentId: string;
  name: string;
  state: string;
  message: string;
  requeuedChunks: number;
}

/** What enrollment changes outside the store. */
export interface EnrollmentHooks {
  /** A NATS user was revoked: sign the account JWT again and push it to the servers. */
  natsUserRevoked(): Promise<void>;
  /** Hands the agent's running attempts back to the queue; returns how many. */
  loseAgentAttempts(agentId: string, reason: string): number;
  /** The agent is out: forget its live state, dispatch again. */
  agentRemoved(agentId: string): void;
}

/**
 * Who gets in: join tokens, admin approval, and removal. The agent id comes
 * from the public key (shared/tls/agent-id.ts), never from what the agent says.
 */
export class EnrollmentService {
  private readonly inFlight = new Map<string, Promise<unknown>>();
  private readonly throttle: EnrollmentThrottle;

  constructor(
    private readonly store: Store,
    private readonly trust: StudioTrust,
    private readonly hooks: EnrollmentHooks,
    private readonly clock: Clock,
    private readonly log: Logger,
    limits: EnrollmentLimits = DEFAULT_ENROLLMENT_LIMITS,
  ) {
    this.throttle = new EnrollmentThrottle(limits, clock);
  }

  enroll(input: EnrollInput): Promise<EnrollOutcome> {
    const agentId = agentIdForPublicKey(input.publicKeyPem);
    // One enrollment per agent at a time: a retrying agent never gets two certificates.
    return this.oneAtATime(agentId, () => this.enrollNow(agentId, input));
  }

  /**
   * Runs `fn` after every earlier enrollment or removal of the same agent has
   * settled. Issuing a certificate awaits (signing, the seed file, the NATS
   * reload); a removal landing in that gap would otherwise be overwritten by
   * the certificate, and the removed agent would get a fresh NATS seed.
   */
  private oneAtATime<T>(agentId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.inFlight.get(agentId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    this.inFlight.set(agentId, run);
    void run.catch(() => undefined).finally(() => {
      if (this.inFlight.get(agentId) === run) this.inFlight.delete(agentId);
    });
    return run;
  }

  private async enrollNow(agentId: string, input: EnrollInput): Promise<EnrollOutcome> {
    const name = cleanName(input.name) || agentId;
    const caPem = this.trust.ca.certPem;
    const fields = { agentId, name, peer: input.peer };
    if (this.store.agents.get(agentId)?.state === "removed") {
      this.log.warn({ ...fields, reason: "removed" }, "enrollment refused");
      throw new EnrollmentRefusedError("removed", `agent ${agentId} was removed from this studio; to join again, delete agent.key in its data dir and enroll with a new token`);
    }
    const existing = this.trust.enrollments.get(agentId);
    if (existing?.certPem && existing.removedAt === null) {
      this.log.info(fields, "enrolled agent asked again; same certificate");
      return { status: "enrolled", agentId, certPem: existing.certPem, caPem, message: "already enrolled" };
    }
    if (input.joinToken.trim() !== "") {
      const check = this.trust.tokens.redeem(input.joinToken);
      if (!check.ok) {
        this.log.warn({ ...fields, reason: check.reason }, "enrollment refused");
        throw new EnrollmentRefusedError(check.reason, check.message);
      }
      this.trust.enrollments.approve(agentId, "token", this.clock());
    } else if (!existing?.approvedAt) {
      if (existing === undefined) {
        // Only agents that wait for an admin count: enrolled agents that have not joined yet wait for nobody.
        const pendingNow = this.trust.enrollments.countAwaitingApproval();
        const why = this.throttle.admitNewPending(peerAddress(input.peer), pendingNow);
        if (why !== null) {
          this.log.warn({ ...fields, reason: "busy", why }, "enrollment refused");
          throw new EnrollmentRefusedError("busy", why);
        }
      }
      this.store.tx(() => {
        this.trust.enrollments.recordRequest(agentId, input.publicKeyPem);
        this.ensureAgentRow(agentId, name, input);
      });
      this.log.info(fields, "agent asks for approval");
      return { status: "pending", agentId, certPem: "", caPem, message: `waiting for approval: nightshift agents approve ${agentId}` };
    }
    const certPem = await this.trust.ca.issueAgentCertificate(agentId, input.publicKeyPem);
    const natsNkey = await this.trust.natsKeys.create(agentId);
    const now = this.clock();
    const removedMeanwhile = this.store.tx(() => {
      // Checked again after the awaits, in the same transaction as the write: a removed agent never gets a certificate.
      if (this.store.agents.get(agentId)?.state === "removed" || this.trust.enrollments.get(agentId)?.removedAt != null) return true;
      this.trust.enrollments.recordRequest(agentId, input.publicKeyPem);
      this.trust.enrollments.recordCertificate(agentId, {
        certPem,
        certFingerprint: certificateFingerprint(certPem),
        natsNkey,
        at: now,
      });
      this.ensureAgentRow(agentId, name, input);
      return false;
    });
    if (removedMeanwhile) {
      await this.trust.natsKeys.delete(agentId);
      this.log.warn({ ...fields, reason: "removed" }, "enrollment refused");
      throw new EnrollmentRefusedError("removed", `agent ${agentId} was removed from this studio while it enrolled`);
    }
    this.log.info({ ...fields, method: this.trust.enrollments.get(agentId)?.method }, "agent enrolled");
    return { status: "enrolled", agentId, certPem, caPem, message: "enrolled" };
  }

  /** Lets a pending or discovered agent in; it gets its certificate the next time it asks. */
  approve(agentId: string): AgentDecisionView {
    const agent = this.requireAgent(agentId);
    if (agent.state === "removed") {
      throw new BadInputError(`agent ${agentId} was removed; it must enroll again with a new key`, { field: "agentId" });
    }
    this.trust.enrollments.approve(agentId, "approval", this.clock());
    this.log.info({ agentId, name: agent.name }, "agent approved");
    const enrolled = this.trust.enrollments.get(agentId)?.certPem;
    const message = enrolled ? "already enrolled" : "approved: the agent receives its certificate the next time it asks";
    return { agentId, name: agent.name, state: agent.state, message, requeuedChunks: 0 };
  }

  /** Revokes at once: running chunks back to the queue, NATS user dropped, certificate refused from now on. */
  remove(agentId: string): Promise<AgentDecisionView> {
    return this.oneAtATime(agentId, () => this.removeNow(agentId));
  }

  private async removeNow(agentId: string): Promise<AgentDecisionView> {
    const agent = this.requireAgent(agentId);
    if (agent.state === "removed") return { agentId, name: agent.name, state: "removed", message: "already removed", requeuedChunks: 0 };
    const now = this.clock();
    this.store.tx(() => {
      this.store.agents.transition(agentId, "removed");
      this.trust.enrollments.markRemoved(agentId, now);
      this.trust.revokeNats(agentId);
    });
    await this.trust.natsKeys.delete(agentId);
    const requeued = this.hooks.loseAgentAttempts(agentId, `agent ${agent.name} removed by an admin`);
    this.hooks.agentRemoved(agentId);
    await this.hooks.natsUserRevoked();
    this.log.warn({ agentId, name: agent.name, requeued }, "agent removed");
    return { agentId, name: agent.name, state: "removed", message: "removed", requeuedChunks: requeued };
  }

  private requireAgent(agentId: string): AgentRow {
    const agent = this.store.agents.get(agentId);
    if (!agent) throw new NotFoundError(`no agent '${agentId}' (see nightshift agents)`);
    return agent;
  }

  /** Creates the agent's row (pending) or moves a discovered one to pending; a known agent keeps its state. */
  private ensureAgentRow(agentId: string, name: string, input: EnrollInput): void {
    const row = this.store.agents.get(agentId);
    if (row && row.state !== "discovered") return;
    this.store.agents.upsert({
      id: agentId,
      name,
      version: input.version.slice(0, 40),
      gpus: input.gpus.slice(0, 64).map((g) => ({ name: cleanName(g.name), vramBytes: g.vramBytes })),
      ramBytes: row?.ramBytes ?? 0,
      cpuCount: row?.cpuCount ?? 0,
      tags: row?.tags ?? [],
      kinds: row?.kinds ?? [],
      address: row?.address ?? "",
      state: "pending",
      now: this.clock(),
    });
    if (row?.state === "discovered") this.store.agents.transition(agentId, "pending");
  }
}

/** Names come from the network: printable, bounded. */
export function cleanName(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f]/g, " ").trim().slice(0, 100);
}
