import { randomUUID } from "node:crypto";
import { credentials as grpcCredentials, Metadata, status as grpcStatus, type CallOptions, type ChannelCredentials, type ChannelOptions, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import { AgentGatewayClient, type AttemptLogAck, type AttemptLogReport, type ClaimRequest, type ClaimResponse, type FailureAck, type FailureReport, type JoinRequest, type JoinResponse } from "../../proto/gen/nightshift/v1/agent_gateway.ts";
import type { ResultSinkClient } from "../../proto/gen/nightshift/v1/sink.ts";
import type { FetchModelRequest, ModelPart, ModelStoreClient } from "../../proto/gen/nightshift/v1/model_store.ts";
import { ModelStoreCodecClient } from "../../shared/assets/asset-part-codec.ts";
import { GRPC_CHANNEL_OPTIONS } from "../../shared/grpc-options.ts";
import { UploadClient } from "../../shared/upload-codec.ts";
import { ClaimStream, type ClaimAsk } from "./claim-stream.ts";
import { UploadStream } from "./upload-stream.ts";

type UnaryCall<Req, Res> = (req: Req, metadata: Metadata, options: Partial<CallOptions>, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/**
 * Seconds a settling call (claim, failure report) waits for the connection
 * when it is down: the call waits for the channel to reconnect instead of
 * failing at once, so an agent whose link just came back does not bounce the
 * chunks it pulls while gRPC is still reconnecting. The work loop keeps the
 * message alive meanwhile.
 */
export const SETTLE_WAIT_SECONDS = 15;

/**
 * The agent's reconnect backoff to its coordinator: from 250 ms, capped at 1 s
 * (the shared options cap at 5 s). After a coordinator restart the agents'
 * claims wait for their channel's next connect try: measured 0.5-2.9 s after
 * the new coordinator listened with the 5 s cap (test/faults/restart-timeline.ts).
 * While the coordinator is down each try is one refused connect a second per
 * channel, nothing a studio LAN notices.
 */
export const AGENT_RECONNECT_OPTIONS = {
  "grpc.initial_reconnect_backoff_ms": 250,
  "grpc.max_reconnect_backoff_ms": 1_000,
};

/**
 * The agent's keepalive to its coordinator: a ping 2 s after the last answer, the connection dropped when one is not
 * answered within 4 s (the shared options: 10 s and 5 s). A connection whose far end is gone and cannot say so (the
 * coordinator killed while the agent's link was cut: its FIN is lost, and while the agent only waits for an answer
 * it sends nothing that would draw a reset once the link is back) is noticed within 6 s instead of 15: the soak's
 * 10.4-14.1 s cut-link recoveries were chunks the agent held on such connections (its uploads and claims hung until
 * the keepalive dropped them, 15 s after the cut). A drop fails the calls on it: the uploads are handed back (the
 * coordinator has judged the agent lost by then, 2-3.5 s after its last heartbeat, if the link was down that long),
 * claims settle on the next connection. Why 4 s and not less: a coordinator whose event loop stalls longer (a job
 * manifest hashing every frame at job end took 9.4 s under load in the ninth round) costs its agents their
 * connections, and the uploads on them; a ping every 2 s is one small frame each way per channel. Since the
 * seventeenth round a cut the agent's NATS connection noticed (a silent link) does not wait for this: the agent dials
 * again once its link is back (redial); the keepalive is left for a connection silent on its own.
 */
export const AGENT_KEEPALIVE_OPTIONS = {
  "grpc.keepalive_time_ms": 2_000,
  "grpc.keepalive_timeout_ms": 4_000,
};

/** HTTP/2 flow-control window of the asset connection, bytes. */
const ASSET_FLOW_CONTROL_WINDOW = 16 * 1024 * 1024;

/** Calls one unary method; `settle` waits up to SETTLE_WAIT_SECONDS for a connection instead of failing fast. */
function promisify<Req, Res>(fn: UnaryCall<Req, Res>, req: Req, settle = false): Promise<Res> {
  return new Promise((resolve, reject) => {
    const metadata = new Metadata(settle ? { waitForReady: true } : {});
    const options = settle ? { deadline: Date.now() + SETTLE_WAIT_SECONDS * 1000 } : {};
    fn(req, metadata, options, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** One dial of the coordinator: the clients of one set of connections (gateway and sink share one; the store has its own). */
interface Dial {
  gateway: AgentGatewayClient;
  sink: ResultSinkClient;
  store: ModelStoreClient;
  /** Asset fetches under way on the store connection (fetchAsset): a redial cancels them. */
  fetches: Set<ClientReadableStream<ModelPart>>;
}

/**
 * Channel option that numbers the agent's dials (redial): grpc-js shares a connection between channels whose
 * address, options and credentials are equal, so a dial with a new number gets connections of its own.
 */
const DIAL_OPTION = "nightshift.dial";

/** The agent's gRPC connection to the coordinator: gateway calls and the result sink client. */
export class CoordinatorClient {
  /** Claims over one open stream, the unary Claim as fallback (agent/grpc/claim-stream.ts). */
  readonly claims: ClaimStream;
  /** Every chunk's upload on one stream, open while the agent runs (agent/grpc/upload-stream.ts). */
  readonly uploads: UploadStream;
  private dial: Dial;
  /** Dials made so far (redial). */
  dials = 1;
  private readonly options: ChannelOptions;

  constructor(
    readonly address: string,
    private readonly creds: ChannelCredentials = grpcCredentials.createInsecure(),
    /** Extra channel options (the TLS name the studio's mutual TLS checks). */
    channelOptions: ChannelOptions = {},
  ) {
    this.options = { ...GRPC_CHANNEL_OPTIONS, ...AGENT_RECONNECT_OPTIONS, ...AGENT_KEEPALIVE_OPTIONS, ...channelOptions };
    this.dial = this.dialled();
    this.claims = new ClaimStream({
      open: () => this.gateway.claimStream(),
      unary: (ask) => this.unaryClaim(ask),
      answerWithinMs: SETTLE_WAIT_SECONDS * 1000,
    });
    this.uploads = new UploadStream(() => this.sink);
  }

  private dialled(): Dial {
    const options = { ...this.options, [DIAL_OPTION]: this.dials };
    return {
      gateway: new AgentGatewayClient(this.address, this.creds, options),
      sink: new UploadClient(this.address, this.creds, options),
      // Its own connection with a wide HTTP/2 window: at grpc-js's default 64 KiB, a transfer waits for a window update every 64 KiB.
      store: new ModelStoreCodecClient(this.address, this.creds, { ...options, "grpc-node.flow_control_window": ASSET_FLOW_CONTROL_WINDOW }),
      fetches: new Set(),
    };
  }

  get gateway(): AgentGatewayClient {
    return this.dial.gateway;
  }

  get sink(): ResultSinkClient {
    return this.dial.sink;
  }

  /** The coordinator's asset store (agent/grpc/store-asset-source.ts). */
  get store(): ModelStoreClient {
    return this.dial.store;
  }

  /**
   * An asset's bytes from `req.offset` on (ModelStore.Fetch) over the store connection of the current dial, which
   * a redial cancels (agent/grpc/store-asset-source.ts then fails it as a broken connection's, and the asset cache
   * fetches again from where it stopped, on the new connection).
   */
  fetchAsset(req: FetchModelRequest): ClientReadableStream<ModelPart> {
    const dial = this.dial;
    // waitForReady: a fetch started while the link is coming back waits for it instead of failing at once.
    const call = dial.store.fetch(req, new Metadata({ waitForReady: true }));
    dial.fetches.add(call);
    call.on("status", () => dial.fetches.delete(call));
    return call;
  }

  /**
   * Moves to new connections to the coordinator, and lets the old ones go: for a connection that may carry
   * nothing any more and cannot tell (the agent's link was cut: the far end killed meanwhile, or waiting out
   * its TCP retransmit backoff; see agent/nats/link-settings.ts). Claims unanswered on the claim stream are
   * made again over the unary call on the new connection; uploads on the upload stream fail as on a broken
   * connection (UNAVAILABLE), so an upload with its frames kept is sent again whole on the new one
   * (result-uploader.ts). Both streams open again at once. A settling call the old connections fail is made
   * again on the new ones (settling). Asset fetches under way there are cancelled (fetchAsset): the asset cache
   * fetches again from where it stopped, on the new connection, where before the eighteenth round it waited for
   * grpc-js to drop the old one (1.5-2 s after the new dial in test/integration/asset-transfer.test.ts, its deaf
   * connection; up to the keepalive's 6 s).
   */
  redial(): void {
    const old = this.dial;
    this.dials++;
    this.dial = this.dialled();
    this.claims.reset();
    this.uploads.reset();
    this.claims.warm();
    this.uploads.warm();
    for (const call of old.fetches) call.cancel();
    old.fetches.clear();
    old.gateway.close();
    old.sink.close();
    old.store.close();
  }

  join(req: JoinRequest): Promise<JoinResponse> {
    return promisify<JoinRequest, JoinResponse>(this.gateway.join.bind(this.gateway), req);
  }

  /** Claims a pulled chunk: on the claim stream, or over the unary call when the stream is not available. */
  claim(agentId: string, chunkId: string, dispatchId: string, delivery: number): Promise<ClaimResponse> {
    return this.claims.claim({ agentId, chunkId, dispatchId, delivery });
  }

  /**
   * Asks for the next chunk without a pulled message (ClaimRequest.next): answered with its work, or skip for
   * none. The ask's key is kept until an answer comes: an ask that failed (its stream broke and the unary
   * retry failed too, or the answer was an error) is asked again with the same key, and a coordinator that
   * took a chunk for it answers with that chunk's attempt instead of claiming a second one.
   */
  async claimNext(agentId: string): Promise<ClaimResponse> {
    const nextKey = (this.nextKey ??= randomUUID());
    const answer = await this.claims.claim({ agentId, chunkId: "", dispatchId: "", delivery: 0, next: true, nextKey });
    this.nextKey = undefined;
    return answer;
  }

  /** The key of the claim for the next chunk not answered yet (claimNext). */
  private nextKey: string | undefined;

  /**
   * A settling call (it waits for the connection), made again on the new connections when it failed UNAVAILABLE
   * after a redial: it waited on the old ones, whose close fails it ("Channel closed before call started"), or was
   * under way there when they broke. Repeating it is as safe as the retries these calls have already: a claim
   * taken once answers "chunk is running" to its repeat, a failure report of a settled attempt changes nothing.
   */
  private async settling<Res>(call: (gateway: AgentGatewayClient) => Promise<Res>): Promise<Res> {
    const dial = this.dial;
    try {
      return await call(dial.gateway);
    } catch (err) {
      if (this.dial === dial || (err as ServiceError).code !== grpcStatus.UNAVAILABLE) throw err;
      return await call(this.dial.gateway);
    }
  }

  /** The unary Claim call, waiting for the connection (settle). */
  unaryClaim(ask: ClaimAsk): Promise<ClaimResponse> {
    return this.settling((g) => promisify<ClaimRequest, ClaimResponse>(g.claim.bind(g), { next: false, nextKey: "", ...ask, requestId: 0 }, true));
  }

  async reportFailure(agentId: string, attemptId: string, error: string, handedBack: boolean): Promise<string> {
    const ack = await this.settling((g) => promisify<FailureReport, FailureAck>(g.reportFailure.bind(g), { agentId, attemptId, error, handedBack }, true));
    return ack.outcome;
  }

  /** Hands over an attempt's tool output (best effort: a log lost is not a frame lost). */
  async reportLog(agentId: string, attemptId: string, text: string): Promise<void> {
    await this.settling((g) => promisify<AttemptLogReport, AttemptLogAck>(g.reportLog.bind(g), { agentId, attemptId, text }, true));
  }

  close(): void {
    this.claims.close();
    this.uploads.close();
    this.gateway.close();
    this.sink.close();
    this.store.close();
  }
}
