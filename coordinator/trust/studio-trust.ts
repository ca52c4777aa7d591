import { isIP } from "node:net";
import { join } from "node:path";
import type { Logger } from "../../shared/log.ts";
import type { Clock } from "../../shared/clock.ts";
import type { Store } from "../store/store.ts";
import { JoinTokensTable } from "../store/join-tokens-table.ts";
import { EnrollmentsTable } from "../store/enrollments-table.ts";
import type { ServerTlsMaterial } from "../../shared/tls/grpc-credentials.ts";
import { StudioCa } from "./studio-ca.ts";
import { keptServerCertificate } from "./kept-server-certificate.ts";
import { identifyPeer, type PeerCertificateLike } from "./peer-identity.ts";
import { BadInputError } from "../../shared/errors.ts";
import { publicKeyFingerprint } from "../../shared/tls/agent-id.ts";
import { NO_AGENT_KEY, type AgentKeyView } from "../control/control-api.ts";
import { JoinTokens } from "./join-tokens.ts";
import { DEFAULT_ADMIN_NAME, ensureAdminCredentials } from "./admin-credentials.ts";
import { AdminCertificatesTable } from "../store/admin-certificates-table.ts";
import { certificateFingerprint } from "../../shared/tls/pem-keys.ts";
import { agentPermissions, type NatsTlsFiles } from "./nats-auth-config.ts";
import { ensureSecretDirectory, writeFileAtomic } from "../../shared/tls/secret-file.ts";
import type { FrontedTls } from "../grpc/grpc-server.ts";
import type { TlsFrontLimits } from "../grpc/tls-front.ts";
import { NatsUserKeys } from "./nats-user-keys.ts";
import { NatsOperatorKeys, type NatsUserCredential } from "./nats-operator-keys.ts";
import { renderNatsResolverConfig } from "./nats-resolver-config.ts";
import { NatsRevocationsTable } from "../store/nats-revocations-table.ts";

/** What an agent needs to log in to NATS; empty strings when the server has no per-agent users. */
export interface NatsAgentCredentials {
  readonly user: string;
  /** nkey seed ("SU..."). */
  readonly seed: string;
  /** User JWT signed by the studio's NATS account, holding the agent's permissions. */
  readonly jwt: string;
}

export const NO_NATS_CREDENTIALS: NatsAgentCredentials = { user: "", seed: "", jwt: "" };

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
 * the CLI (`<data-dir>/admin`), the server certificate (kept across restarts, `<data-dir>/server-tls`), join tokens
 * and enrollments in the store, and the NATS users derived from them.
 */
export class StudioTrust {
  private constructor(
    readonly ca: StudioCa,
    readonly server: ServerTlsMaterial,
    readonly tokens: JoinTokens,
    readonly enrollments: EnrollmentsTable,
    readonly adminDir: string,
    readonly adminCerts: AdminCertificatesTable,
    readonly natsKeys: NatsUserKeys,
    readonly natsOperator: NatsOperatorKeys,
    /** The coordinator's own NATS user: a fresh key and JWT on every start, its seed only in memory. */
    readonly natsCoordinator: NatsUserCredential,
    private readonly natsRevocations: NatsRevocationsTable,
    private readonly natsJwts: { operator: string; system: string; account: string },
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
    const issued = await keptServerCertificate(o.dataDir, ca, specificIp ? { ips: [o.listenHost] } : {}, o.log);
    const tokens = new JoinTokens(new JoinTokensTable(o.store.db), o.clock);
    const enrollments = new EnrollmentsTable(o.store.db);
    const natsKeys = await NatsUserKeys.open(o.dataDir);
    const revocations = new NatsRevocationsTable(o.store.db);
    // Agents enrolled before nkeys (or whose seed file is gone) get a fresh user key; they fetch it at their next Join.
    for (const e of enrollments.listActive()) {
      if (e.natsNkey === null || (await natsKeys.seed(e.agentId, e.natsNkey)) === undefined) {
        if (e.natsNkey !== null) revocations.revoke(e.natsNkey, e.agentId, Date.now());
        enrollments.recordNatsNkey(e.agentId, await natsKeys.create(e.agentId));
      }
    }
    const operator = await NatsOperatorKeys.open(o.dataDir);
    const jwts = { operator: await operator.operatorJwt(), system: await operator.systemAccountJwt(), account: await operator.accountJwt(revocations.asClaims()) };
    return new StudioTrust(
      ca, { caPem: ca.certPem, ...issued }, tokens, enrollments, admin.dir, adminCerts, natsKeys,
      operator, await operator.coordinatorUser(), revocations, jwts, o.subjectPrefix, o.clock,
    );
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

  /**
   * The nats-server config lines for decentralized auth (operator, system
   * account, `full` resolver in `resolverDir`, both accounts preloaded with the
   * latest signed account JWT): for the embedded server and any external node.
   */
  natsServerAuthConfig(resolverDir: string): string {
    return renderNatsResolverConfig({
      operatorJwt: this.natsJwts.operator,
      systemAccount: this.natsOperator.systemAccountPublicKey,
      resolverDir,
      preload: { [this.natsOperator.systemAccountPublicKey]: this.natsJwts.system, [this.natsOperator.accountPublicKey]: this.natsJwts.account },
    });
  }

  /**
   * Takes back the agent's NATS user: its public key joins the account's
   * revocation list (call natsAccountJwt and push it to the servers). The time
   * is the wall clock, as nats-server compares it with the JWT's issue time.
   */
  revokeNats(agentId: string): void {
    const key = this.enrollments.get(agentId)?.natsNkey;
    if (key !== null && key !== undefined) this.natsRevocations.revoke(key, agentId, Date.now());
  }

  /**
   * The account JWT signed last here (at open, or by natsAccountJwt since), with every revocation up to then. The
   * start-up push sends this one: nothing was revoked since open, and signing another would wait for the next whole
   * second (nats-operator-keys.ts), 0.5 s of every coordinator start on average (twelfth round).
   */
  get latestNatsAccountJwt(): string {
    return this.natsJwts.account;
  }

  /** The nightshift account JWT signed now with every revocation; later (re)starts preload it too. */
  async natsAccountJwt(): Promise<string> {
    this.natsJwts.account = await this.natsOperator.accountJwt(this.natsRevocations.asClaims());
    return this.natsJwts.account;
  }

  /** The NATS user of an enrolled agent: its id, nkey seed and a user JWT signed now (answered over mTLS at Join only). */
  async natsCredentials(agentId: string): Promise<NatsAgentCredentials> {
    const e = this.enrollments.get(agentId);
    if (!e || e.removedAt !== null || e.natsNkey === null) return NO_NATS_CREDENTIALS;
    const seed = await this.natsKeys.seed(agentId, e.natsNkey);
    if (seed === undefined) return NO_NATS_CREDENTIALS;
    const jwt = await this.natsOperator.agentJwt(agentId, e.natsNkey, agentPermissions({ subjectPrefix: this.subjectPrefix }, agentId));
    return { user: agentId, seed, jwt };
  }
}
