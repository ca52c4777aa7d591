import type { Server, ServerInterceptor, ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Logger } from "../../shared/log.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Store } from "../store/store.ts";
import type { CoordinatorConfig } from "../config/coordinator-config.ts";
import type { EmbeddedNatsServer } from "../nats/embedded-nats-server.ts";
import type { NatsAccountPush } from "../nats/nats-account-push.ts";
import { StudioAdminService } from "../../proto/gen/nightshift/v1/enrollment.ts";
import { stopGrpcServer } from "../grpc/grpc-server.ts";
import { AgentSightings } from "../discovery/agent-sightings.ts";
import { startLanPresence, type LanPresence } from "../discovery/lan-presence.ts";
import { EnrollmentService } from "./enrollment-service.ts";
import { peerGuard } from "./peer-guard.ts";
import { enrollmentHandler, studioAdminHandler } from "./trust-grpc-handlers.ts";
import { startEnrollmentServer } from "./enrollment-server.ts";
import type { StudioTrust } from "./studio-trust.ts";
import type { AgentRegistry } from "../agents/agent-registry.ts";
import type { ClaimService } from "../dispatch/claim-service.ts";

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

export interface StudioEdgeDeps {
  readonly config: CoordinatorConfig;
  readonly store: Store;
  readonly trust: StudioTrust;
  /** Embedded nats-server, whose users follow enrollments; undefined with --nats (external). */
  readonly nats: EmbeddedNatsServer | undefined;
  readonly natsUrl: string;
  /** Pushes the account JWT (revocations) to the NATS servers; undefined when they do not use the studio's operator. */
  readonly natsAccountPush: NatsAccountPush | undefined;
  readonly registry: AgentRegistry;
  readonly claims: ClaimService;
  readonly kick: () => void;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * The coordinator's trust boundary on the network: the peer guard and the
 * admin service on the mutual-TLS port, the enrollment listener, the NATS
 * users that follow enrollments, and the LAN presence (mDNS).
 */
export class StudioEdge {
  readonly enrollment: EnrollmentService;
  readonly guard: ServerInterceptor;
  readonly adminService: { definition: ServiceDefinition; implementation: UntypedServiceImplementation };
  private enrollServer: Server | undefined;
  private presence: LanPresence | undefined;
  enrollPort = 0;

  constructor(private readonly deps: StudioEdgeDeps) {
    const log = deps.log;
    this.enrollment = new EnrollmentService(
      deps.store,
      deps.trust,
      {
        natsUserRevoked: async () => {
          const accountJwt = await deps.trust.natsAccountJwt();
          // A failed push is logged, not thrown: the agent is removed already, and every (re)start preloads this JWT.
          await deps.natsAccountPush?.push(accountJwt).catch((err: Error) => log.error({ err: err.message }, "NATS servers did not confirm the revocation"));
        },
        loseAgentAttempts: (id, reason) => deps.claims.loseAgentAttempts(id, reason),
        agentRemoved: (id) => {
          deps.registry.live.delete(id);
          deps.kick();
        },
      },
      deps.clock,
      log,
    );
    this.guard = peerGuard({
      caPem: deps.trust.ca.certPem,
      store: deps.store,
      enrollments: deps.trust.enrollments,
      adminFingerprint: (name) => deps.trust.adminCerts.fingerprint(name),
      log,
      rules: {
        "nightshift.v1.Control": "admin",
        "nightshift.v1.StudioAdmin": "admin",
        "nightshift.v1.DashboardAdmin": "admin",
        "nightshift.v1.AgentGateway": "agent",
        "nightshift.v1.ResultSink": "agent",
        "nightshift.v1.ModelStore": "agent",
      },
    });
    this.adminService = {
      definition: StudioAdminService,
      implementation: studioAdminHandler(deps.trust, this.enrollment, () => this.enrollPort) as unknown as UntypedServiceImplementation,
    };
    // nats-server names the user it refused; say so in the coordinator's log.
    deps.nats?.on("log-line", (line: string) => {
      if (/authentication error|authorization violation/i.test(line)) log.warn({ line: line.slice(0, 300) }, "nats refused a client");
    });
  }

  /** Opens the enrollment listener and, when asked, the mDNS advert and agent browse. */
  async listen(grpcPort: number): Promise<void> {
    const c = this.deps.config;
    const handler = enrollmentHandler(this.enrollment);
    const credentials = this.deps.trust.frontedTls(false, this.deps.log.child({ port: "enroll" }), this.deps.clock);
    let bound: Awaited<ReturnType<typeof startEnrollmentServer>>;
    if (c.enrollFollowsGrpc && grpcPort < 65535) {
      // gRPC port + 1, so that `nightshift agent --coordinator HOST:PORT` finds it without --enroll.
      bound = await startEnrollmentServer(c.enrollHost, grpcPort + 1, handler, credentials).catch((err: Error) => {
        this.deps.log.warn({ port: grpcPort + 1, err: err.message }, "enrollment port = gRPC port + 1 is taken; using a free one (agents with --coordinator need --enroll)");
        return startEnrollmentServer(c.enrollHost, 0, handler, credentials);
      });
    } else {
      bound = await startEnrollmentServer(c.enrollHost, c.enrollPort, handler, credentials);
    }
    const { server, port } = bound;
    this.enrollServer = server;
    this.enrollPort = port;
    this.deps.log.info({ enroll: `${c.enrollHost}:${port}`, ca: this.deps.trust.caFingerprint }, "enrollment listening");
    if (!c.mdns.enabled) return;
    if (isLoopback(c.listenHost) && c.mdns.interfaceIp === undefined) {
      // Nobody on the LAN could reach a loopback listener; and a coordinator run on loopback (tests, trials) stays off the network.
      this.deps.log.info({ listen: c.listenHost }, "mDNS off: the coordinator listens on loopback only");
      return;
    }
    const natsPort = this.deps.nats ? Number(new URL(this.deps.natsUrl).port) : undefined;
    const sightings = new AgentSightings(this.deps.store, c.policy.heartbeatMs, { markOffline: (id, reason) => this.markOffline(id, reason) }, this.deps.clock, this.deps.log.child({ part: "discovery" }));
    sightings.startExpiry(c.mdns.discoveredTtlMs);
    this.presence = startLanPresence({
      ...(c.mdns.interfaceIp ? { interfaceIp: c.mdns.interfaceIp } : {}),
      grpcPort,
      enrollPort: port,
      nats: natsPort !== undefined ? { port: natsPort } : { url: this.deps.natsUrl },
      caFingerprint: this.deps.trust.caFingerprint,
      sightings,
      log: this.deps.log.child({ part: "discovery" }),
    });
  }

  /** An online agent said goodbye and stopped heartbeating: offline now, its chunks back to the queue. */
  private markOffline(agentId: string, reason: string): void {
    const agent = this.deps.store.agents.get(agentId);
    if (agent?.state !== "online") return;
    this.deps.store.agents.transition(agentId, "offline");
    this.deps.registry.live.delete(agentId);
    this.deps.log.warn({ agentId, name: agent.name, reason }, "agent offline: mDNS goodbye");
    this.deps.claims.loseAgentAttempts(agentId, reason);
  }

  async stop(): Promise<void> {
    await this.presence?.stop().catch(() => undefined);
    if (this.enrollServer) await stopGrpcServer(this.enrollServer, 1000);
  }
}
