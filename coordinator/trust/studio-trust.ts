import { isIP } from "node:net";
import { join } from "node:path";
import type { ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "../../shared/log.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Store } from "../store/store.ts";
import { JoinTokensTable } from "../store/join-tokens-table.ts";
import { EnrollmentsTable } from "../store/enrollments-table.ts";
import { studioServerCredentials, type ServerTlsMaterial } from "../../shared/tls/grpc-credentials.ts";
import { StudioCa } from "./studio-ca.ts";
import { JoinTokens } from "./join-tokens.ts";
import { ensureAdminCredentials } from "./admin-credentials.ts";
import { newNatsPassword } from "./nats-config-file.ts";
import { renderNatsAuthorization } from "./nats-auth-config.ts";

export const COORDINATOR_NATS_USER = "coordinator";

export interface StudioTrustOptions {
  readonly dataDir: string;
  /** The gRPC listen host; a specific IP is added to the server certificate. */
  readonly listenHost: string;
  readonly subjectPrefix: string;
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * Everything the coordinator needs to decide who is in the studio, opened
 * once at start: the studio CA (`<data-dir>/ca`), the admin credentials for
 * the CLI (`<data-dir>/admin`), this run's server certificate, join tokens
 * and enrollments in the store, and the NATS users derived from them.
 */
export class StudioTrust {
  /** The coordinator's own NATS password: fresh on every start, only in memory and the 0600 config. */
  readonly natsCoordinator = { user: COORDINATOR_NATS_USER, password: newNatsPassword() };

  private constructor(
    readonly ca: StudioCa,
    readonly server: ServerTlsMaterial,
    readonly tokens: JoinTokens,
    readonly enrollments: EnrollmentsTable,
    readonly adminDir: string,
    private readonly subjectPrefix: string,
  ) {}

  static async open(o: StudioTrustOptions): Promise<StudioTrust> {
    const ca = await StudioCa.open(join(o.dataDir, "ca"), { log: o.log });
    const adminDir = await ensureAdminCredentials(o.dataDir, ca, o.log);
    const specificIp = isIP(o.listenHost) !== 0 && o.listenHost !== "0.0.0.0" && o.listenHost !== "::";
    const issued = await ca.issueServerCertificate(specificIp ? { ips: [o.listenHost] } : {});
    const tokens = new JoinTokens(new JoinTokensTable(o.store.db), o.clock);
    return new StudioTrust(ca, { caPem: ca.certPem, ...issued }, tokens, new EnrollmentsTable(o.store.db), adminDir, o.subjectPrefix);
  }

  get caFingerprint(): string {
    return this.ca.fingerprint;
  }

  /** mTLS for Control, ResultSink, AgentGateway, StudioAdmin: no studio client certificate, no handshake. */
  serverCredentials(): ServerCredentials {
    return studioServerCredentials(this.server, true);
  }

  /** Server-only TLS for the enrollment listener (agents have no certificate yet). */
  enrollmentCredentials(): ServerCredentials {
    return studioServerCredentials(this.server, false);
  }

  /** The `authorization` block of the embedded nats-server: the coordinator plus every enrolled, not removed agent. */
  natsAuthorization(): string {
    const agents = this.enrollments
      .listActive()
      .filter((e) => e.natsPassword !== null)
      .map((e) => ({ agentId: e.agentId, password: e.natsPassword as string }));
    return renderNatsAuthorization({ subjectPrefix: this.subjectPrefix, coordinator: this.natsCoordinator, agents });
  }

  /** The NATS user of an enrolled agent (answered over mTLS at Join only). */
  natsCredentials(agentId: string): { user: string; password: string } {
    const e = this.enrollments.get(agentId);
    if (!e || e.removedAt !== null || e.natsPassword === null) return { user: "", password: "" };
    return { user: agentId, password: e.natsPassword };
  }
}
