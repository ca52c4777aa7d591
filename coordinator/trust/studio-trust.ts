import { isIP } from "node:net";
import { join } from "node:path";
import type { Logger } from "../../shared/log.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Store } from "../store/store.ts";
import { JoinTokensTable } from "../store/join-tokens-table.ts";
import { EnrollmentsTable } from "../store/enrollments-table.ts";
import type { ServerTlsMaterial } from "../../shared/tls/grpc-credentials.ts";
import { StudioCa } from "./studio-ca.ts";
import { identifyPeer, type PeerCertificateLike } from "./peer-identity.ts";
import { BadInputError } from "../../shared/errors.ts";
import { publicKeyFingerprint } from "../../shared/tls/agent-id.ts";
import { NO_AGENT_KEY, type AgentKeyView } from "../control/control-api.ts";
import { JoinTokens } from "./join-tokens.ts";
import { DEFAULT_ADMIN_NAME, ensureAdminCredentials } from "./admin-credentials.ts";
import { AdminCertificatesTable } from "../store/admin-certificates-table.ts";
import { certificateFingerprint } from "../../shared/tls/pem-keys.ts";
import { renderNatsAuthorization, type NatsTlsFiles } from "./nats-auth-config.ts";
import { ensureSecretDirectory, writeFileAtomic } from "../../shared/tls/secret-file.ts";
import { ephemeralNatsUser, NatsUserKeys } from "./nats-user-keys.ts";
import type { FrontedTls } from "../grpc/grpc-server.ts";
import type { TlsFrontLimits } from "../grpc/tls-front.ts";

/** What an agent needs to log in to NATS; empty strings when the server has no per-agent users. */
export interface NatsAgentCredentials {
  readonly user: string;
  /** nkey seed ("SU..."). */
  readonly seed: string;
}

export const NO_NATS_CREDENTIALS: NatsAgentCredentials = { user: "", seed: "" };

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
  /** The coordinator's own NATS user: a fresh nkey on every start, its seed only in memory. */
  readonly natsCoordinator = ephemeralNatsUser();

  private constructor(
    readonly ca: StudioCa,
    readonly server: ServerTlsMaterial,
    readonly tokens: JoinTokens,
    readonly enrollments: EnrollmentsTable,
    readonly adminDir: string,
    readonly adminCerts: AdminCertificatesTable,
    readonly natsKeys: NatsUserKeys,
    private readonly subjectPrefix: string,
    private readonly clock: Clock,
  ) {}

  static async open(o: StudioTrustOptions): Promise<StudioTrust> {
    const ca = await StudioCa.open(join(o.dataDir, "ca"), { log: o.log });
    const admin = await ensureAdminCredentials(o.dataDir, ca, o.log);
    const adminCerts = new AdminCertificatesTable(o.store.db);
    const recorded = adminCerts.fingerprint(DEFAULT_ADMIN_NAME);
    if (recorded === undefined) adminCerts.record(DEFAULT_ADMIN_NAME, certificateFingerprint(admin.certPem), o.clock());
    else if (recorded !== certificateFingerprint(admin.certPem)) {
      o.log.warn({ dir: admin.dir }, "the admin certificate in this folder was rotated by `nightshift admin rotate` elsewhere; it is refused");
    }
    const specificIp = isIP(o.listenHost) !== 0 && o.listenHost !== "0.0.0.0" && o.listenHost !== "::";
    const issued = await ca.issueServerCertificate(specificIp ? { ips: [o.listenHost] } : {});
    const tokens = new JoinTokens(new JoinTokensTable(o.store.db), o.clock);
    const enrollments = new EnrollmentsTable(o.store.db);
    const natsKeys = await NatsUserKeys.open(o.dataDir);
    // Agents enrolled before nkeys (or whose seed file is gone) get a fresh user key; they fetch it at their next Join.
    for (const e of enrollments.listActive()) {
      if (e.natsNkey === null || (await natsKeys.seed(e.agentId, e.natsNkey)) === undefined) {
        enrollments.recordNatsNkey(e.agentId, await natsKeys.create(e.agentId));
      }
    }
    return new StudioTrust(ca, { caPem: ca.certPem, ...issued }, tokens, enrollments, admin.dir, adminCerts, natsKeys, o.subjectPrefix, o.clock);
  }

  get caFingerprint(): string {
    return this.ca.fingerprint;
  }

  /**
   * This run's server certificate for a TLS listener behind the coordinator's front (handshake deadline,
   * per-address cap, refusals logged once a minute): mutual TLS for the gRPC port (no studio client
   * certificate, no handshake), server-only for enrollment (agents have no certificate yet).
   */
  frontedTls(requireClientCertificate: boolean, log: Logger, clock: Clock, limits?: Partial<TlsFrontLimits>): FrontedTls {
    return { tls: this.server, requireClientCertificate, log, clock, ...(limits ? { limits } : {}) };
  }

  /**
   * Writes this run's server certificate and key for the embedded nats-server
   * (`<dir>/server.crt`, `server.key`, 0600 in a 0700 folder) and returns the
   * paths for its `tls` block. Agents already pin the studio CA that signed it.
   */
  async writeNatsServerTls(dir: string): Promise<NatsTlsFiles> {
    await ensureSecretDirectory(dir);
    const certFile = join(dir, "server.crt");
    const keyFile = join(dir, "server.key");
    await writeFileAtomic(certFile, this.server.certPem, 0o600);
    await writeFileAtomic(keyFile, this.server.keyPem, 0o600);
    return { certFile, keyFile };
  }

  /** The agent's key fingerprint (from the key it asked with) and whether it is enrolled, which vouches for its name. */
  agentKey(agentId: string): AgentKeyView {
    const e = this.enrollments.get(agentId);
    if (!e) return NO_AGENT_KEY;
    let keyFingerprint = "";
    try {
      keyFingerprint = e.publicKeyPem === null ? "" : publicKeyFingerprint(e.publicKeyPem);
    } catch {
      keyFingerprint = "";
    }
    return { keyFingerprint, nameVerified: e.certFingerprint !== null && e.removedAt === null };
  }

  /**
   * A new certificate for the calling admin's new key; from now on only it
   * opens Control and StudioAdmin for that name (the peer guard compares
   * fingerprints), so the old certificate is refused at once.
   */
  async rotateAdmin(caller: PeerCertificateLike | undefined, publicKeyPem: string): Promise<{ certPem: string; caPem: string }> {
    const peer = identifyPeer(caller, this.ca.certPem);
    if (peer.kind !== "admin") throw new BadInputError("only an admin can rotate admin credentials", { field: "caller" });
    let certPem: string;
    try {
      certPem = await this.ca.issueAdminCertificate(peer.name, publicKeyPem);
    } catch (err) {
      throw new BadInputError(`publicKeyPem: not a usable public key (${(err as Error).message})`, { field: "publicKeyPem", cause: err });
    }
    this.adminCerts.record(peer.name, certificateFingerprint(certPem), this.clock());
    return { certPem, caPem: this.ca.certPem };
  }

  /** The `authorization` block of the embedded nats-server: the coordinator plus every enrolled, not removed agent. */
  natsAuthorization(): string {
    const agents = this.enrollments
      .listActive()
      .filter((e) => e.natsNkey !== null)
      .map((e) => ({ agentId: e.agentId, nkey: e.natsNkey as string }));
    return renderNatsAuthorization({ subjectPrefix: this.subjectPrefix, coordinator: { nkey: this.natsCoordinator.publicKey }, agents });
  }

  /** The NATS user of an enrolled agent: its id and nkey seed (answered over mTLS at Join only). */
  async natsCredentials(agentId: string): Promise<NatsAgentCredentials> {
    const e = this.enrollments.get(agentId);
    if (!e || e.removedAt !== null || e.natsNkey === null) return NO_NATS_CREDENTIALS;
    const seed = await this.natsKeys.seed(agentId, e.natsNkey);
    return seed === undefined ? NO_NATS_CREDENTIALS : { user: agentId, seed };
  }
}
