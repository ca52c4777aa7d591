import { chmodSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Server, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import { nkeyJwtAuthenticator } from "../shared/nats/nkey-ed25519.ts";
import { connect } from "@nats-io/transport-node";
import type { Logger } from "../shared/log.ts";
import { systemClock, type Clock } from "../shared/clock.ts";
import { decodeHeartbeat } from "../shared/protocol/heartbeat-decoder.ts";
import { Store } from "./store/store.ts";
import type { CoordinatorConfig } from "./config/coordinator-config.ts";
import { EmbeddedNatsServer } from "./nats/embedded-nats-server.ts";
import { WorkQueue } from "./nats/work-queue.ts";
import { RollCall } from "./dispatch/roll-call.ts";
import { LostWorkFirst } from "./dispatch/lost-work-first.ts";
import { PlacedTakeBack } from "./dispatch/placed-take-back.ts";
import { watchBusStatus } from "./nats/bus-status-watch.ts";
import { Dispatcher } from "./dispatch/dispatcher.ts";
import { ClaimService } from "./dispatch/claim-service.ts";
import { claimChanges } from "./dispatch/claim-changes.ts";
import { AgentRegistry } from "./agents/agent-registry.ts";
import { TcpAgentProber } from "./agents/tcp-agent-prober.ts";
import { ResultSink } from "./sink/result-sink.ts";
import { reconcileStaging } from "./sink/reconcile-staging.ts";
import { StagedCommitRetry } from "./sink/staged-commit-retry.ts";
import { DISK_FULL, DiskFullGuard } from "./sink/disk-full-guard.ts";
import { JobSpecs } from "./jobs/job-specs.ts";
import { JobFinisher } from "./jobs/job-finisher.ts";
import { workDescriber } from "./jobs/describe-work.ts";
import { framePathFor } from "./jobs/job-paths.ts";
import { ControlApi } from "./control/control-api.ts";
import { startGrpcServer, stopGrpcServer } from "./grpc/grpc-server.ts";
import { controlHandler } from "./grpc/control-handler.ts";
import { resultSinkHandler } from "./grpc/result-sink-handler.ts";
import { agentGatewayHandler, claimStreamsOf } from "./grpc/agent-gateway-handler.ts";
import type { ClaimStreams } from "./grpc/claim-stream-handler.ts";
import { UploadStreams } from "./grpc/upload-streams.ts";
import { recoverAfterRestart } from "./recover-after-restart.ts";
import { StartUpSteps } from "./start-up-steps.ts";
import { wireScheduling } from "./scheduling/wire-scheduling.ts";
import { windowHolds, type JobWindow } from "./scheduling/job-window.ts";
import { localZone } from "./scheduling/scheduling-deps.ts";
import { ensureAgentConsumer } from "./nats/agent-consumer.ts";
import { askForHeartbeats } from "./nats/agent-control.ts";
import { watchDeadLetters } from "./nats/dead-letter-watch.ts";
import { NO_NATS_CREDENTIALS, StudioTrust } from "./trust/studio-trust.ts";
import { renderNatsTls } from "./trust/nats-auth-config.ts";
import { NatsAccountPush } from "./nats/nats-account-push.ts";
import { watchAgentDisconnects } from "./nats/agent-disconnect-watch.ts";
import { retryDuringElection } from "../shared/nats/retry-during-election.ts";
import { natsClientTls } from "../shared/tls/nats-tls.ts";
import { openProvenance } from "./provenance/open-provenance.ts";
import type { FrameStamper } from "./provenance/frame-stamper.ts";
import { StudioEdge } from "./trust/studio-edge.ts";
import { startAccounting, type Accounting } from "./telemetry/accounting.ts";
import { AssetStore } from "./assets/asset-store.ts";
import { ModelCatalog } from "./assets/model-catalog.ts";
import { AssetCollector } from "./assets/asset-collector.ts";
import { modelStoreHandler } from "./assets/model-store-handler.ts";
import { MODEL_STORE_SERVICE } from "../shared/assets/asset-part-codec.ts";
import { DashboardAdminService } from "../proto/gen/nightshift/v1/dashboard.ts";
import { WebhookOutboxTable } from "./store/webhook-outbox-table.ts";
import { WebhookOutbox } from "./notify/webhook-outbox.ts";
import { farmNotifications, type FarmNotifications } from "./notify/farm-notifications.ts";
import { startDashboard } from "./dashboard/start-dashboard.ts";
import type { DashboardServer } from "./dashboard/dashboard-server.ts";
import { dashboardAdminHandler } from "./grpc/dashboard-admin-handler.ts";

/**
 * The coordinator process: store, NATS (embedded or external), dispatch,
 * agent liveness, result sink and control API, wired once here. Everything
 * else receives what it needs through its constructor.
 */
export class Coordinator {
  private stopped = false;

  /** Claim transactions committed and the claims they held (bench:scheduling reports claims per transaction). */
  get claimBatches(): { batches: number; writes: number } {
    return { ...this.parts.claims.batch.stats };
  }

  /** Chunk messages published to the work stream so far (a chunk claimed by answer has none). */
  get workMessagesPublished(): number {
    return this.parts.queue.published;
  }

  private constructor(
    readonly config: CoordinatorConfig,
    readonly store: Store,
    readonly api: ControlApi,
    readonly finisher: JobFinisher,
    readonly registry: AgentRegistry,
    /** Every NATS URL agents are handed (one for the embedded server, the cluster's list with --nats). */
    readonly natsUrls: string[],
    readonly grpcPort: number,
    private readonly parts: {
      nats: EmbeddedNatsServer | undefined;
      nc: NatsConnection;
      natsAccountPush: NatsAccountPush | undefined;
      subs: Subscription[];
      dispatcher: Dispatcher;
      queue: WorkQueue;
      claims: ClaimService;
      /** The agents' open claim streams, ended before the gRPC server's graceful stop (which would wait for them). */
      claimStreams: ClaimStreams;
      /** The agents' open upload streams, ended before the graceful stop as the claim streams are. */
      uploadStreams: UploadStreams;
      server: Server;
      log: Logger;
      diskGuard: DiskFullGuard;
      stagedRetry: StagedCommitRetry;
      sink: ResultSink;
      edge: StudioEdge;
      accounting: Accounting;
      outbox: WebhookOutbox;
      notifications: FarmNotifications;
      dashboard: DashboardServer;
      stamper: FrameStamper;
      assetGc: AssetCollector;
      /** Asks every agent online in the store for a heartbeat now, echoing `ask` when given (agent-control.ts). */
      askHeartbeats: (ask?: number) => void;
    },
    /** The studio CA, admin credentials, join tokens and enrollments (coordinator/trust/). */
    readonly trust: StudioTrust,
    /** Content-addressed models and other assets agents fetch (coordinator/assets/). */
    readonly assets: AssetStore,
  ) {}

  /** Asks every agent online in the store for a heartbeat now (done at start, once heartbeats are listened for). */
  askForHeartbeats(ask?: number): void {
    this.parts.askHeartbeats(ask);
  }

  /** host:port of the enrollment listener (server-only TLS). */
  get enrollAddress(): string {
    const host = this.config.enrollHost === "0.0.0.0" ? "127.0.0.1" : this.config.enrollHost;
    return `${host.includes(":") ? `[${host}]` : host}:${this.parts.edge.enrollPort}`;
  }

  /** Join tokens, approval and removal of agents. */
  get enrollment(): StudioEdge["enrollment"] {
    return this.parts.edge.enrollment;
  }

  /** The agents' claim and upload streams open now (tests, benches). */
  get openStreams(): { claims: number; uploads: number } {
    return { claims: this.parts.claimStreams.size, uploads: this.parts.uploadStreams.size };
  }

  /** host:port that agents and the CLI dial. */
  get address(): string {
    const host = this.config.listenHost === "0.0.0.0" ? "127.0.0.1" : this.config.listenHost;
    return `${host.includes(":") ? `[${host}]` : host}:${this.grpcPort}`;
  }

  /** Where an in-process agent enrolls and dials (agent/connect/enroll-local-agent.ts): the demo, tests, benches. */
  get joinPoint(): { address: string; enrollAddress: string; caFingerprint: string } {
    return { address: this.address, enrollAddress: this.enrollAddress, caFingerprint: this.trust.caFingerprint };
  }

  /** Telemetry, power budget and metrics (coordinator/telemetry/accounting.ts). */
  get accounting(): Accounting {
    return this.parts.accounting;
  }

  /** The dashboard (coordinator/dashboard/): its address and one-time login links. */
  get dashboard(): DashboardServer {
    return this.parts.dashboard;
  }

  /** Webhook deliveries (coordinator/notify/). */
  get outbox(): WebhookOutbox {
    return this.parts.outbox;
  }

  /** The first NATS URL (the embedded server's). */
  get natsUrl(): string {
    return this.natsUrls[0] as string;
  }

  get natsPid(): number | undefined {
    return this.parts.nats?.pid;
  }

  /** The supervised embedded nats-server (undefined with --nats). */
  get natsServer(): EmbeddedNatsServer | undefined {
    return this.parts.nats;
  }

  static async start(config: CoordinatorConfig, log: Logger, clock: Clock = systemClock): Promise<Coordinator> {
    const steps = new StartUpSteps();
    // The data dir holds the CA key, NATS user seeds and the store: no other local user may look inside.
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    chmodSync(config.dataDir, 0o700);
    // The store is checked first: a corrupt one stops the start before anything else is created.
    const store = Store.open(config.storePath);
    mkdirSync(config.outputRoot, { recursive: true });
    steps.mark("store");
    const cleanups: Array<() => Promise<void> | void> = [() => store.close()];
    try {
      const trust = await StudioTrust.open({ dataDir: config.dataDir, listenHost: config.listenHost, subjectPrefix: config.subjectPrefix, store, clock, log: log.child({ part: "trust" }) });
      steps.mark("trust");
      let nats: EmbeddedNatsServer | undefined;
      let natsUrls: string[];
      if (config.nats.mode === "embedded") {
        const natsTls = await trust.writeNatsServerTls(join(config.dataDir, "nats", "tls"));
        nats = new EmbeddedNatsServer({
          dir: join(config.dataDir, "nats"),
          host: config.listenHost,
          port: config.nats.port,
          binary: config.nats.binary,
          log: log.child({ part: "nats" }),
          extraConfig: () => `${trust.natsServerAuthConfig(join(config.dataDir, "nats", "accounts"))}\n${renderNatsTls(natsTls)}`,
        });
        natsUrls = [await nats.start()];
        const n = nats;
        cleanups.push(() => n.stop());
        nats.on("gave-up", (err: Error) => log.fatal({ err: err.message }, "embedded nats-server cannot be kept running"));
      } else {
        natsUrls = config.nats.urls;
      }
      steps.mark("natsServer");
      const natsTlsClient = natsClientTls(trust.ca.certPem);
      // The embedded server, and a cluster written by `nats-cluster init` (natsStudioAuth), trust the studio's operator:
      // the coordinator logs in with a user JWT, hands agents theirs and pushes the account JWT (revocations) to them.
      const studioNats = nats !== undefined || (config.nats.mode === "external" && config.nats.studioAuth);
      const natsAuth = studioNats ? { authenticator: nkeyJwtAuthenticator(trust.natsCoordinator.jwt, trust.natsCoordinator.seed), tls: natsTlsClient } : {};
      const nc = await connect({ servers: natsUrls, ...natsAuth, name: "nightshift-coordinator", maxReconnectAttempts: -1, reconnectTimeWait: 250,
        // No Error (with its stack) captured per request for async traces: one per chunk publish was a measurable share of dispatch.
        noAsyncTraces: true });
      cleanups.push(() => nc.close());
      steps.mark("natsConnect");
      // Revocations reach the servers' resolvers through the system account (every node of a cluster); pushed once now, then on every removal.
      const natsAccountPush = studioNats ? await NatsAccountPush.open({ servers: natsUrls, systemUser: await trust.natsOperator.systemUser(), tls: natsTlsClient }) : undefined;
      if (natsAccountPush) {
        cleanups.push(() => natsAccountPush.close());
        // A cluster that is still electing (or a node still starting) answers with timeouts: retried, bounded.
        // The JWT signed at open (and preloaded by the embedded server), not a new one: that would wait for the next second.
        const accountJwt = trust.latestNatsAccountJwt;
        await retryDuringElection(() => natsAccountPush.push(accountJwt), {
          onRetry: (attempt, err) => log.warn({ attempt, err: err.message }, "NATS servers did not take the account JWT yet; retrying"),
        });
      }
      steps.mark("natsAccountPush");
      const natsLog = log.child({ part: "nats" });
      const queue = new WorkQueue(nc, {
        prefix: config.subjectPrefix,
        ackWaitSeconds: config.policy.ackWaitSeconds,
        maxDeliver: config.policy.maxDeliveries,
        replicas: config.nats.replicas,
        retry: { onRetry: (attempt, err) => natsLog.warn({ attempt, err: err.message }, "JetStream call failed (leader election?); retrying") },
        servers: { count: natsUrls.length, onLeft: (err) => natsLog.warn({ err: err.message }, "this NATS node's JetStream does not answer yet: moving to another node") },
      });
      await queue.ensure();
      steps.mark("workStream");

      const assets = new AssetStore(join(config.dataDir, "assets"));
      const assetGc = new AssetCollector(store, assets, clock, config.assetGc, log.child({ part: "assets" }));
      const models = new ModelCatalog(store, assets, clock, (sha256) => assetGc.neededNow(sha256));
      assetGc.start();
      cleanups.push(() => assetGc.stop());
      const specs = new JobSpecs();
      const provenance = await openProvenance(config.dataDir, trust.ca, store, specs, clock, log.child({ part: "provenance" }));
      cleanups.push(() => provenance.stamper.close());
      const finisher = new JobFinisher(store, specs, clock, log.child({ part: "jobs" }), provenance.jobs);
      const outbox = new WebhookOutbox({ table: new WebhookOutboxTable(store.db), config: config.webhooks, clock, log: log.child({ part: "notify" }) });
      cleanups.push(() => outbox.stop());
      const notifications = farmNotifications(store, outbox, finisher);
      cleanups.push(() => notifications.stop());
      // A placed chunk its agent passes over while taking other work, or leaves unclaimed while idle, or had not
      // claimed when it was heard again after a gap, is taken back and placed again (placed-take-back.ts).
      const takeBack = new PlacedTakeBack(store, { startedAt: clock() });
      // When work is lost, the online agents are asked for a heartbeat now (heard within a round trip, not over a
      // period): it goes to one that answers (roll-call.ts).
      const askHeartbeats = (ask?: number): void => askForHeartbeats(nc, queue.subjects, store.agents.listLiveness("online").map((a) => a.id), log.child({ part: "agents" }), ask);
      const rollCall = new RollCall({
        ask: askHeartbeats,
        answers: (id) => registry.live.get(id)?.answers,
        ms: config.policy.heartbeatMs / 2,
        clock,
        kick: () => dispatcher.kickNow(),
      });
      cleanups.push(() => rollCall.stop());
      // A lost attempt's chunk is placed on an agent's own subject before each pass, not at the back of the pool.
      // Fresh: a heartbeat within the period, plus the quarter period its last_seen may lag and as much again of jitter.
      const lostFirst = new LostWorkFirst({ store, publisher: queue, live: () => registry.live, ineligible: (a, j) => claims.ineligible(a, j), clock, log: log.child({ part: "dispatch" }), freshMs: 1.5 * config.policy.heartbeatMs,
        // After a restart, lost work is not piled on the first agents heard while the others are heard (a heartbeat period and the lag again).
        settleMs: 1.5 * config.policy.heartbeatMs,
        takeBack,
        // A job held by its window does not keep lower-priority lost work back (outranking-work.ts).
        held: (job, now) => windowHolds((specs.of(job) as { window?: JobWindow }).window, job.createdAt, now, localZone),
        // After a restart the pool waits at most this long for the lost work (and the attempts that died with the old process) to be placed.
        restartHoldMs: 3 * config.policy.heartbeatMs,
        rollCall });
      const dispatcher = new Dispatcher(store, queue, config.policy, clock, log.child({ part: "dispatch" }), undefined, lostFirst);
      const onChange = claimChanges(finisher, dispatcher);
      const claims = new ClaimService(store, config.policy, workDescriber(specs), clock, log.child({ part: "claims" }), onChange, (chunkId) => lostFirst.requeued(chunkId), config.claimNext ? (agentId: string, max: number): string[] => dispatcher.nextFor(agentId, max) : undefined);
      const deadLetters = watchDeadLetters(nc, queue, (chunkId, dispatchId) => claims.dropUndelivered(chunkId, dispatchId), log.child({ part: "dispatch" }));
      // Each agent pulls from its own consumer (placed work) as well as the pool. A silent agent's health port is probed before it is judged lost.
      const registry = new AgentRegistry(store, claims, config.policy, { onJoined: (a) => ensureAgentConsumer(queue, a.id, log), onOffline: (a, ms) => notifications.agentOffline(a, ms), onHeardAfterGap: (id) => {
          takeBack.heardAfterGap(id, clock());
          dispatcher.kickNow();
        }, onHeard: () => {
          if (lostFirst.waiting > 0 && rollCall.open(clock())) dispatcher.kickNow();
        } }, clock, log.child({ part: "agents" }), () => dispatcher.kickNow(), new TcpAgentProber());
      const sink = new ResultSink(
        store,
        (job, i) => framePathFor(job, specs.of(job), i),
        { outputRoot: config.outputRoot, maxFrameBytes: config.maxFrameBytes, stamper: provenance.stamper, shareTransaction: () => claims.batch.take() },
        clock,
        log.child({ part: "sink" }),
        // One call per committed chunk: the finisher reads the job's counts only when it may end (job-finisher.ts).
        (jobId) => {
          finisher.committed(jobId);
          dispatcher.kick();
        },
      );
      // The uploads' staged writes and fsyncs on a thread of their own, off the event loop (staging-writer.ts); in line until it runs.
      void sink.startThread();
      const stagedRetry = new StagedCommitRetry(config.outputRoot, store, log.child({ part: "sink" }));
      sink.onMoveFailed = (attemptId) => stagedRetry.add(attemptId);
      finisher.holdsFrames = (jobId) => stagedRetry.holds(jobId);
      stagedRetry.onMoved = onChange;
      cleanups.push(() => stagedRetry.stop());
      const api = new ControlApi(
        store,
        { store, outputRoot: config.outputRoot, modelsDir: config.modelsDir, sharedRoot: config.sharedRoot, assets, clock },
        finisher,
        specs,
        { compiled: config.tariff, label: config.tariffLabel },
        clock,
        // Admin actions (submit, resume, priority) bring new work: dispatched at once, not after the passes' gap.
        () => dispatcher.kickNow(),
      );
      wireScheduling({ store, modelsDir: config.modelsDir, specs, nc, subjects: queue.subjects, dispatcher, claims, sink, api, registry, clock, log: log.child({ part: "dispatch" }), onJobHeld: (id, reason) => notifications.jobHeld(id, reason) });

      const diskGuard = new DiskFullGuard(store, config.outputRoot, config.minFreeBytes, clock, log.child({ part: "disk" }), onChange);
      cleanups.push(() => diskGuard.stop());
      steps.mark("wiring");
      // The first passes place the restart's lost work, and the chunks of attempts that died with the old process, before fresh pool chunks.
      const runningAtRestart = store.attempts.runningOnOnlineAgents().map((a) => a.id);
      lostFirst.restarted(recoverAfterRestart(store, clock, log), runningAtRestart);
      // Every message left in the work stream is stale now (no chunk is queued): removed before the first pass publishes.
      await queue.purge();
      for (const attemptId of reconcileStaging(config.outputRoot, store, log).stuck) stagedRetry.add(attemptId);
      steps.mark("recover");

      const sub = nc.subscribe(queue.subjects.heartbeatAll, {
        callback: (err, msg) => {
          if (err) return;
          try {
            const hb = decodeHeartbeat(msg.data);
            // An agent may publish only on its own subject; the payload must name the same agent.
            if (msg.subject !== queue.subjects.heartbeat(hb.agentId)) throw new Error(`heartbeat for ${hb.agentId} on ${msg.subject}`);
            registry.heartbeat(hb);
          } catch (e) {
            log.warn({ subject: msg.subject, err: (e as Error).message }, "malformed heartbeat ignored");
          }
        },
      });
      // The agents online in the store are asked for a heartbeat now: heard within a round trip, not over a period
      // (with the roll call's number when the restart's lost work opened one before this subscription existed).
      rollCall.askAgain();
      // Heartbeats cannot arrive while the coordinator's own NATS connection is down: no agent is timed out for that.
      // Back after the agents (nats-server restarted), it asks them for a heartbeat: they are heard at once, not over a period.
      watchBusStatus(nc, { down: () => registry.busDown(), back: () => {
        registry.busBack();
        rollCall.askAgain();
      } });
      // An agent whose process died is seen by its NATS connection closing, sooner than by its heartbeats stopping.
      const disconnects = natsAccountPush
        ? watchAgentDisconnects(natsAccountPush.connection, trust.natsOperator.accountPublicKey, (c) => registry.connectionClosed(c.agentId, c.reason, c.connection), log.child({ part: "agents" }))
        : undefined;
      const accounting = await startAccounting({ config: config.accounting, store, nc, telemetrySubject: queue.subjects.telemetryAll, live: registry.live, dispatcher, api, clock, log });
      cleanups.push(() => accounting.stop());
      api.agentKey = (agentId) => trust.agentKey(agentId);
      const edge = new StudioEdge({ config, store, trust, nats, natsUrl: natsUrls[0] as string, natsAccountPush, registry, claims, kick: () => dispatcher.kick(), clock, log: log.child({ part: "trust" }) });
      cleanups.push(() => edge.stop());
      const dashboard = await startDashboard({
        config, api, store, trust, enrollment: edge.enrollment, telemetry: accounting.telemetry, live: registry.live, jobChanges: finisher, outbox, clock,
        log: log.child({ part: "dashboard" }),
      });
      cleanups.push(() => dashboard.close());
      steps.mark("accountingEdgeDashboard");
      const claimStreams = claimStreamsOf(claims);
      const uploadStreams = new UploadStreams();
      const { server, port } = await startGrpcServer(config.listenHost, config.listenPort, {
        control: controlHandler(api, finisher, models, assets, assetGc),
        sink: resultSinkHandler(sink, log.child({ part: "sink" }), (h, reason) => {
          if (reason === DISK_FULL) diskGuard.onDiskFull(h.jobId, h.attemptId);
        }, uploadStreams),
        gateway: agentGatewayHandler(registry, claims, {
          natsServers: () => natsUrls,
          subjectPrefix: config.subjectPrefix,
          heartbeatMs: config.policy.heartbeatMs,
          // A user JWT and its seed wherever the servers trust the studio's operator; nothing for a foreign server.
          natsCredentials: async (agentId) => (studioNats ? trust.natsCredentials(agentId) : NO_NATS_CREDENTIALS),
        }, claimStreams),
        extra: [
          edge.adminService,
          { definition: MODEL_STORE_SERVICE, implementation: modelStoreHandler(assets, log.child({ part: "assets" })) as unknown as UntypedServiceImplementation },
          { definition: DashboardAdminService, implementation: dashboardAdminHandler(() => dashboard, outbox) as unknown as UntypedServiceImplementation },
        ],
      }, trust.frontedTls(true, log.child({ part: "trust", port: "grpc" }), clock), [edge.guard]);
      cleanups.push(() => (claimStreams.close(), uploadStreams.close(), stopGrpcServer(server, 1000)));
      await edge.listen(port);
      registry.start();
      outbox.start();
      dispatcher.start();
      diskGuard.start();
      for (const j of store.jobs.listInStates(["running", "queued", "assembling"])) finisher.check(j.id);
      finisher.resumeAssembling();
      steps.mark("grpcAndStart");
      log.info({ grpc: `${config.listenHost}:${port}`, nats: natsUrls.join(","), replicas: config.nats.replicas, dataDir: config.dataDir, outputRoot: config.outputRoot, dashboard: dashboard.url, startUpMs: steps.summary() }, "coordinator ready");
      return new Coordinator(config, store, api, finisher, registry, natsUrls, port, { nats, nc, natsAccountPush, subs: [sub, deadLetters, ...(disconnects ? [disconnects] : [])], dispatcher, queue, claims, claimStreams, uploadStreams, server, log, diskGuard, stagedRetry, sink, edge, accounting, outbox, notifications, dashboard, stamper: provenance.stamper, assetGc, askHeartbeats }, trust, assets);
    } catch (err) {
      for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
      throw err;
    }
  }

  /** Drains: stops dispatching, lets in-flight gRPC calls finish (bounded), then closes NATS and the store. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const p = this.parts;
    const steps: Array<() => Promise<void> | void> = [
      () => p.dispatcher.stop(),
      () => p.assetGc.stop(),
      () => p.diskGuard.stop(),
      () => p.stagedRetry.stop(),
      () => this.registry.stop(),
      () => p.edge.stop(),
      () => p.dashboard.close(),
      () => p.notifications.stop(),
      () => p.outbox.stop(),
      () => p.claimStreams.close(),
      () => p.uploadStreams.close(),
      () => stopGrpcServer(p.server),
      // The last answered commits' emptied staging dirs (removed after their answers), then the staging thread.
      () => p.sink.close(),
      () => p.stamper.close(),
      () => this.finisher.settle(),
      () => p.subs.forEach((s) => s.unsubscribe()),
      () => p.accounting.stop(),
      () => p.nc.drain(),
      () => p.natsAccountPush?.close(),
      () => p.nats?.stop(),
      () => this.store.close(),
    ];
    for (const [i, step] of steps.entries()) {
      // Each step is bounded: a drain against a NATS server that never comes back must not hang the shutdown.
      let timer: NodeJS.Timeout | undefined;
      const limit = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`shutdown step ${i} took longer than 10 s`)), 10_000);
      });
      try {
        await Promise.race([Promise.resolve().then(step), limit]);
      } catch (err) {
        p.log.warn({ err: (err as Error).message }, "shutdown step failed");
      } finally {
        clearTimeout(timer);
      }
    }
    p.log.info({}, "coordinator stopped");
  }
}
