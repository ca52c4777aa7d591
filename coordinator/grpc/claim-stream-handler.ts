/**
 * The coordinator's side of AgentGateway.ClaimStream: an agent's claims as
 * messages on one long-lived bidirectional stream instead of a unary Claim
 * call per chunk. A call costs the coordinator several times the CPU of a
 * message on an open stream (grpc-js, HTTP/2 and the TLS front per call;
 * bench/grpc-call-cost.bench.ts), and an agent claims once per chunk.
 *
 * Each request is answered exactly as the unary Claim answers it (the same
 * function: agent-gateway-handler.ts), as soon as its claim has committed, so
 * answers may come out of the order asked; each carries its request's id. A
 * claim that throws is answered with the status code and message the unary
 * call would have ended with. Who may send what is the peer guard's
 * (coordinator/trust/peer-guard.ts): it checks every message of a
 * bidirectional stream as it checks a call, and ends the stream on a refusal.
 *
 * `close()` (at coordinator stop, before the gRPC server's graceful shutdown,
 * which would otherwise wait its whole grace for streams that never end by
 * themselves) takes no more requests, lets the claims in flight be answered,
 * then ends each stream with UNAVAILABLE: the agent makes any claim it had
 * unanswered again over the unary call, which waits for a coordinator.
 */
import { status, type ServerDuplexStream } from "@grpc/grpc-js";
import type { ClaimRequest, ClaimResponse, ClaimStreamAnswer } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import { toServiceError } from "./grpc-errors.ts";

type Call = ServerDuplexStream<ClaimRequest, ClaimStreamAnswer>;

/** One open stream: its claims not yet answered, and whether the agent has said it sends no more. */
interface OpenStream {
  inFlight: number;
  halfClosed: boolean;
}

export class ClaimStreams {
  private readonly open = new Map<Call, OpenStream>();
  private closing = false;

  constructor(private readonly answer: (req: ClaimRequest) => Promise<ClaimResponse>) {}

  /** Streams open now. */
  get size(): number {
    return this.open.size;
  }

  /** The grpc-js handler of ClaimStream. */
  readonly handler = (call: Call): void => {
    if (this.closing) return void call.emit("error", stopping());
    const s: OpenStream = { inFlight: 0, halfClosed: false };
    this.open.set(call, s);
    call.on("data", (req: ClaimRequest) => {
      if (this.closing) return; // left unanswered: the agent makes it again over Claim
      s.inFlight++;
      void this.answered(req).then((a) => {
        s.inFlight--;
        if (this.open.has(call)) call.write(a);
        this.settle(call, s);
      });
    });
    call.on("end", () => {
      s.halfClosed = true;
      this.settle(call, s);
    });
    // The agent cancelled, its connection went, or the peer guard refused a message and ended the call.
    call.on("error", () => this.open.delete(call));
    call.on("cancelled", () => this.open.delete(call));
    call.on("close", () => this.open.delete(call));
  };

  /** Takes no more claims; each stream ends once its claims in flight are answered. */
  close(): void {
    this.closing = true;
    for (const [call, s] of this.open) this.settle(call, s);
  }

  private async answered(req: ClaimRequest): Promise<ClaimStreamAnswer> {
    try {
      return { requestId: req.requestId, claim: await this.answer(req), errorCode: 0, errorMessage: "" };
    } catch (err) {
      const e = toServiceError(err);
      return { requestId: req.requestId, claim: undefined, errorCode: e.code ?? status.INTERNAL, errorMessage: e.details ?? "" };
    }
  }

  /** Ends a stream with nothing left to answer: OK when the agent half-closed it, UNAVAILABLE at close(). */
  private settle(call: Call, s: OpenStream): void {
    if (s.inFlight > 0 || !this.open.has(call)) return;
    if (s.halfClosed) {
      this.open.delete(call);
      call.end();
    } else if (this.closing) {
      this.open.delete(call);
      // grpc-js's server stream sends an emitted error as the call's status (destroy would send none).
      call.emit("error", stopping());
    }
  }
}

function stopping(): Error {
  return Object.assign(new Error("the coordinator is stopping"), { code: status.UNAVAILABLE, details: "the coordinator is stopping" });
}
