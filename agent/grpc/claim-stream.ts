/**
 * The agent's claims over one long-lived bidirectional stream
 * (AgentGateway.ClaimStream) instead of one unary Claim call per chunk: a
 * message on an open stream costs the coordinator a fraction of a call's CPU
 * (bench/grpc-call-cost.bench.ts). The unary call stays the fallback:
 *
 * - The stream opens when the agent starts (warm; else at the first claim) and stays open. Each claim carries a
 *   request id and its answer is matched by it, so claims in flight at once
 *   (a claim ahead, agent/work/claim-ahead.ts) may be answered in any order.
 * - When the stream breaks (the link cut, the coordinator restarting or
 *   stopping, the peer guard refusing), the claims in flight on it are made
 *   again over the unary call, which waits for the coordinator
 *   (SETTLE_WAIT_SECONDS); claims go unary for `reopenAfterMs`, then the next
 *   one opens a new stream. UNIMPLEMENTED (an older coordinator): unary for good.
 * - A claim for the next chunk (`next`) is made again with its key
 *   (`nextKey`), and a coordinator that took it answers with the same attempt
 *   (coordinator/dispatch/next-claim-keys.ts).
 * - A claim the coordinator took whose answer was lost with the stream is
 *   answered "chunk is running" (skip) on its unary retry: the same outcome as
 *   a unary claim whose answer was lost (the work message redelivered, the
 *   claim refused), and the attempt nobody runs is lost by the coordinator
 *   when the agent's heartbeats do not name it (agent-registry.ts). A claim's
 *   effect on the store happens once either way.
 * - An answer not in within `answerWithinMs` fails that claim as a unary
 *   call's deadline would (DEADLINE_EXCEEDED), and the stream is dropped, its
 *   other claims going unary.
 */
import { status, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import type { ClaimRequest, ClaimResponse, ClaimStreamAnswer } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import { redialled, serviceError } from "./service-error.ts";

/** A claim as the agent asks it: `next` (the next chunk for me, no message pulled) false and `nextKey` empty unless given. */
export type ClaimAsk = Omit<ClaimRequest, "requestId" | "next" | "nextKey"> & { next?: boolean; nextKey?: string };

export interface ClaimStreamDeps {
  /** Opens AgentGateway.ClaimStream. */
  open(): ClientDuplexStream<ClaimRequest, ClaimStreamAnswer>;
  /** The unary Claim, with its settle wait. */
  unary(ask: ClaimAsk): Promise<ClaimResponse>;
  /** How long claims go unary after the stream broke before one opens it again, ms (default 1000). */
  reopenAfterMs?: number;
  /** How long a claim waits for its answer on the stream, ms. */
  answerWithinMs: number;
  now?: () => number;
}

interface Pending {
  ask: ClaimAsk;
  resolve(res: ClaimResponse): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** One open stream and its unanswered claims by request id. */
interface OpenStream {
  call: ClientDuplexStream<ClaimRequest, ClaimStreamAnswer>;
  pending: Map<number, Pending>;
}

export class ClaimStream {
  private stream: OpenStream | undefined;
  private nextId = 1;
  private unaryUntil = 0;
  private unaryForGood = false;
  private closed = false;
  /** Claims answered on the stream, made over the unary call, and streams that broke. */
  readonly stats = { streamed: 0, unary: 0, breaks: 0 };

  constructor(private readonly deps: ClaimStreamDeps) {}

  claim(ask: ClaimAsk): Promise<ClaimResponse> {
    const now = (this.deps.now ?? Date.now)();
    if (this.closed || this.unaryForGood || (this.stream === undefined && now < this.unaryUntil)) return this.unary(ask);
    const s = (this.stream ??= this.opened());
    const requestId = this.nextId++;
    return new Promise<ClaimResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!s.pending.delete(requestId)) return;
        reject(serviceError(status.DEADLINE_EXCEEDED, `no claim answer on the claim stream within ${this.deps.answerWithinMs} ms`));
        this.broken(s, serviceError(status.DEADLINE_EXCEEDED, "claim answer overdue"));
      }, this.deps.answerWithinMs);
      s.pending.set(requestId, { ask, resolve, reject, timer });
      s.call.write({ next: false, nextKey: "", ...ask, requestId });
    });
  }

  /** Opens the stream now if none is open and claims may use it, so that the first claim finds it set up (the agent opens it when it starts). */
  warm(): void {
    const now = (this.deps.now ?? Date.now)();
    if (this.closed || this.unaryForGood || this.stream !== undefined || now < this.unaryUntil) return;
    this.stream = this.opened();
  }

  /**
   * Drops the open stream, with no pause before the next one (the agent dialled the coordinator again:
   * CoordinatorClient.redial): claims unanswered on it are made again over the unary call, which goes on the
   * new connection.
   */
  reset(): void {
    const s = this.stream;
    if (!s) return;
    this.stream = undefined;
    this.broken(s, redialled());
    s.call.cancel();
  }

  /** Ends the stream; claims still unanswered on it fail (the agent is closing its connection). */
  close(): void {
    this.closed = true;
    const s = this.stream;
    if (!s) return;
    this.stream = undefined;
    for (const p of s.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("the claim stream was closed"));
    }
    s.pending.clear();
    s.call.cancel();
  }

  private opened(): OpenStream {
    const s: OpenStream = { call: this.deps.open(), pending: new Map() };
    s.call.on("data", (a: ClaimStreamAnswer) => this.answered(s, a));
    s.call.on("error", (err: ServiceError) => this.broken(s, err));
    // Ended without an error (the coordinator ended it): whatever is unanswered goes unary all the same.
    s.call.on("end", () => this.broken(s, serviceError(status.UNAVAILABLE, "the claim stream ended")));
    return s;
  }

  private answered(s: OpenStream, a: ClaimStreamAnswer): void {
    const p = s.pending.get(a.requestId);
    if (!p) return; // overdue and failed already
    s.pending.delete(a.requestId);
    clearTimeout(p.timer);
    this.stats.streamed++;
    if (a.errorCode !== 0) p.reject(serviceError(a.errorCode, a.errorMessage));
    else if (a.claim) p.resolve(a.claim);
    else p.reject(serviceError(status.INTERNAL, "claim stream answer without a claim"));
  }

  /** The stream is over: its unanswered claims go over the unary call. */
  private broken(s: OpenStream, err: ServiceError): void {
    if (this.stream === s) {
      this.stream = undefined;
      this.stats.breaks++;
      if (err.code === status.UNIMPLEMENTED) this.unaryForGood = true;
      this.unaryUntil = (this.deps.now ?? Date.now)() + (this.deps.reopenAfterMs ?? 1000);
      s.call.cancel();
    }
    const left = [...s.pending.values()];
    s.pending.clear();
    for (const p of left) {
      clearTimeout(p.timer);
      this.unary(p.ask).then(p.resolve, p.reject);
    }
  }

  private unary(ask: ClaimAsk): Promise<ClaimResponse> {
    this.stats.unary++;
    return this.deps.unary(ask);
  }
}
