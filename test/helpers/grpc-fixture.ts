import { status, type ChannelCredentials, type ChannelOptions, type sendUnaryData, type ServerInterceptor, type ServerWritableStream } from "@grpc/grpc-js";
import type { TestContext } from "node:test";
import type { ControlServer, JobRef, JobView } from "../../proto/gen/nightshift/v1/control.ts";
import { AgentRegistry } from "../../coordinator/agents/agent-registry.ts";
import { ClaimService, type WorkDescriber } from "../../coordinator/dispatch/claim-service.ts";
import { DEFAULT_FARM_POLICY } from "../../coordinator/dispatch/farm-policy.ts";
import { agentGatewayHandler, claimStreamsOf } from "../../coordinator/grpc/agent-gateway-handler.ts";
import type { ClaimStreams } from "../../coordinator/grpc/claim-stream-handler.ts";
import { startGrpcServer, stopGrpcServer, type FrontedTls } from "../../coordinator/grpc/grpc-server.ts";
import { resultSinkHandler } from "../../coordinator/grpc/result-sink-handler.ts";
import { UploadStreams } from "../../coordinator/grpc/upload-streams.ts";
import type { ResultSink } from "../../coordinator/sink/result-sink.ts";
import type { Store } from "../../coordinator/store/store.ts";
import type { Clock } from "../../shared/clock.ts";
import { CoordinatorClient } from "../../agent/grpc/gateway-client.ts";
import { defer } from "./defer.ts";
import { testLog } from "./test-log.ts";

const unimplemented = (_call: unknown, cb: sendUnaryData<never>): void => cb({ code: status.UNIMPLEMENTED, details: "not part of this test" }, null);

/** A Control service that answers UNIMPLEMENTED: the tests using this fixture exercise the sink and the gateway. */
export const unimplementedControl: ControlServer = {
  submit: unimplemented,
  getJob: unimplemented,
  listJobs: unimplemented,
  cancelJob: unimplemented,
  pauseJob: unimplemented,
  resumeJob: unimplemented,
  listAgents: unimplemented,
  report: unimplemented,
  jobLogs: unimplemented,
  addModel: unimplemented,
  listModels: unimplemented,
  removeModel: unimplemented,
  missingAssets: unimplemented,
  putAsset: unimplemented,
  collectAssets: unimplemented,
  listAssets: unimplemented,
  rerender: unimplemented,
  watchJob: (call: ServerWritableStream<JobRef, JobView>) => call.destroy(Object.assign(new Error("not part of this test"), { code: status.UNIMPLEMENTED })),
};

export interface GrpcFixtureOptions {
  /** Makes the gateway's claim streams (coordinator/grpc/claim-stream-handler.ts): a test's own answer function around the claims. */
  streamsOf?: (claims: ClaimService) => ClaimStreams;
  /** Answers claims for the next chunk with these picks (the coordinator's Dispatcher.nextFor); none: such claims are not answered. */
  pickNext?: (agentId: string, max: number) => string[];
  /** Mutual TLS through the TLS front, the peer guard, and the client's studio credentials. */
  secure?: { tls: FrontedTls; guard: ServerInterceptor; client: { credentials: ChannelCredentials; options: ChannelOptions } };
}

const describeWork: WorkDescriber = (job) => ({
  input: { type: "generated", width: 8, height: 8, frames: job.frameEnd - job.frameStart + 1, seed: job.seed },
  steps: [{ id: "grade", kind: "model", model: "test-model", modelSha256: job.modelSha256, window: null }],
});

/**
 * A real grpc-js server on 127.0.0.1:0 with the real ResultSink handler and the
 * real AgentGateway (registry + claims on `store`), plus a CoordinatorClient to
 * it. Both are shut down when the test ends.
 */
export async function startCoordinatorGrpc(t: TestContext, store: Store, sink: ResultSink, clock: Clock, listenPort = 0, opts: GrpcFixtureOptions = {}) {
  const log = testLog();
  const claims = new ClaimService(store, DEFAULT_FARM_POLICY, describeWork, clock, log, () => undefined, undefined, opts.pickNext);
  const streams = (opts.streamsOf ?? claimStreamsOf)(claims);
  const uploadStreams = new UploadStreams();
  const registry = new AgentRegistry(store, claims, DEFAULT_FARM_POLICY, { onJoined: async () => undefined }, clock, log, () => undefined);
  const { server, port } = await startGrpcServer("127.0.0.1", listenPort, {
    control: unimplementedControl,
    sink: resultSinkHandler(sink, log, undefined, uploadStreams),
    gateway: agentGatewayHandler(registry, claims, {
      natsServers: () => [],
      subjectPrefix: "ns",
      heartbeatMs: DEFAULT_FARM_POLICY.heartbeatMs,
      natsCredentials: async () => ({ user: "", seed: "", jwt: "" }),
    }, streams),
  }, opts.secure?.tls, opts.secure ? [opts.secure.guard] : []);
  defer(t, () => (streams.close(), uploadStreams.close(), stopGrpcServer(server, 1000)));
  const client = new CoordinatorClient(`127.0.0.1:${port}`, opts.secure?.client.credentials, opts.secure?.client.options);
  defer(t, () => client.close());
  return { server, port, client, claims, registry, streams, uploadStreams };
}
