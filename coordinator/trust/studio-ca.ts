import { randomBytes, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { BadInputError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import { silentLogger } from "../../shared/log.ts";
import { adminCommonName, assertAgentId } from "../../shared/tls/identity-names.ts";
import {
  certificateFingerprint,
  generateEcKeyPair,
  privateKeyFromPem,
  privateKeyToPem,
  publicKeyFromPem,
  publicPemOfPrivatePem,
  type CryptoKey,
} from "../../shared/tls/pem-keys.ts";
import { ensureSecretDirectory, isGroupOrWorldAccessible, readIfExists, writeFileAtomic } from "../../shared/tls/secret-file.ts";
import type { CaSigner } from "./leaf-certificates.ts";
import { serverCertificateProfile, type ServerCertificateRequest } from "./server-certificate-profile.ts";

export type { ServerCertificateRequest } from "./server-certificate-profile.ts";

export const CA_KEY_FILE = "ca.key";
export const CA_CERT_FILE = "ca.crt";

/** The CA files exist but cannot be used. Never "fixed" by generating a new CA. */
export class StudioCaError extends Error {
  override readonly name = "StudioCaError";
  constructor(
    message: string,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface StudioCaOptions {
  readonly now?: () => Date;
  readonly log?: Logger;
  readonly caValidityDays?: number;
  readonly leafValidityDays?: number;
}

export interface IssuedKeyAndCert {
  /** Leaf followed by the CA certificate, so that clients can pin the CA from the handshake. */
  readonly certPem: string;
  readonly keyPem: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The certificate builders, with @peculiar/x509 (about 200 modules): loaded when a certificate is issued, not at every start. */
const builders = () => import("./leaf-certificates.ts");

/**
 * The studio's certificate authority: created in `dir` on first start
 * (ca.key 0600, ca.crt), loaded unchanged on every later start. It is read
 * with node:crypto; @peculiar/x509 is loaded only to issue a certificate.
 */
export class StudioCa {
  private constructor(
    readonly certPem: string,
    /** sha256 of the CA certificate's DER, lowercase hex. What agents pin. */
    readonly fingerprint: string,
    private readonly cert: X509Certificate,
    private readonly privateKey: CryptoKey,
    private readonly now: () => Date,
    private readonly leafValidityDays: number,
  ) {}

  /** The signing side as @peculiar/x509 wants it, made at the first certificate issued. */
  private signing: Promise<CaSigner> | undefined;

  static async open(dir: string, options: StudioCaOptions = {}): Promise<StudioCa> {
    const now = options.now ?? (() => new Date());
    const log = options.log ?? silentLogger();
    const leafDays = options.leafValidityDays ?? 825;
    const keyPath = join(dir, CA_KEY_FILE);
    const certPath = join(dir, CA_CERT_FILE);
    const [keyPem, certPem] = await Promise.all([readIfExists(keyPath), readIfExists(certPath)]);
    if (keyPem === undefined && certPem === undefined) {
      await ensureSecretDirectory(dir);
      const keys = await generateEcKeyPair();
      const name = `nightshift studio CA ${randomBytes(4).toString("hex")}`;
      const { createCaCertificate } = await builders();
      const newCertPem = (await createCaCertificate(keys, name, now(), options.caValidityDays ?? 3650)).toString("pem") + "\n";
      const cert = new X509Certificate(newCertPem);
      await writeFileAtomic(keyPath, privateKeyToPem(keys.privateKey), 0o600);
      await writeFileAtomic(certPath, newCertPem, 0o644);
      const ca = new StudioCa(newCertPem, certificateFingerprint(newCertPem), cert, keys.privateKey, now, leafDays);
      log.info({ dir, fingerprint: ca.fingerprint }, "studio CA created");
      return ca;
    }
    if (keyPem === undefined) {
      throw new StudioCaError(`${keyPath} is missing but ${certPath} exists; restore ca.key from a backup`, keyPath);
    }
    if (certPem === undefined) {
      throw new StudioCaError(`${certPath} is missing but ${keyPath} exists; restore ca.crt from a backup`, certPath);
    }
    const ca = await StudioCa.parse(keyPem, keyPath, certPem, certPath, now, leafDays);
    if (await isGroupOrWorldAccessible(keyPath)) {
      log.warn({ file: keyPath }, "studio CA key is readable by group or others; chmod 600 it");
    }
    log.info({ dir, fingerprint: ca.fingerprint }, "studio CA loaded");
    return ca;
  }

  private static async parse(
    keyPem: string,
    keyPath: string,
    certPem: string,
    certPath: string,
    now: () => Date,
    leafDays: number,
  ): Promise<StudioCa> {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch (cause) {
      throw new StudioCaError(`${certPath} is not a PEM certificate (corrupt?)`, certPath, { cause });
    }
    let privateKey: CryptoKey;
    let publicPem: string;
    try {
      privateKey = await privateKeyFromPem(keyPem);
      publicPem = publicPemOfPrivatePem(keyPem);
    } catch (cause) {
      throw new StudioCaError(`${keyPath} is not a PEM EC P-256 private key (corrupt?)`, keyPath, { cause });
    }
    if (cert.publicKey.export({ type: "spki", format: "pem" }).toString().trim() !== publicPem.trim()) {
      throw new StudioCaError(`${keyPath} does not belong to the certificate in ${certPath}`, keyPath);
    }
    const notAfter = new Date(cert.validTo);
    if (notAfter.getTime() <= now().getTime()) {
      throw new StudioCaError(
        `studio CA in ${certPath} expired on ${notAfter.toISOString()}; a new CA means every agent re-enrolls`,
        certPath,
      );
    }
    // node:crypto prints the PEM as @peculiar/x509 did (64-column lines) with the one newline at the end.
    const pem = cert.toString();
    return new StudioCa(pem, certificateFingerprint(pem), cert, privateKey, now, leafDays);
  }

  /** A fresh key and server certificate for the coordinator's gRPC listener. */
  async issueServerCertificate(request: ServerCertificateRequest = {}): Promise<IssuedKeyAndCert> {
    const keys = await generateEcKeyPair();
    const profile = serverCertificateProfile(request);
    const { createLeafCertificate } = await builders();
    const leaf = await createLeafCertificate(await this.signer(), {
      commonName: profile.commonName,
      publicKey: keys.publicKey,
      usage: profile.usage,
      dnsNames: profile.dnsNames,
      ips: profile.ips,
      now: this.now(),
      validityDays: this.leafValidityDays,
    });
    return { certPem: leaf.toString("pem") + "\n" + this.certPem, keyPem: privateKeyToPem(keys.privateKey) };
  }

  /** Signs an agent's public key (SPKI PEM): client certificate with CN = agent id. */
  async issueAgentCertificate(agentId: string, publicKeyPem: string): Promise<string> {
    assertAgentId(agentId);
    return this.issueClientCertificate(agentId, publicKeyPem);
  }

  /** Signs an admin's public key: client certificate with CN = `admin:<name>`. */
  async issueAdminCertificate(name: string, publicKeyPem: string): Promise<string> {
    return this.issueClientCertificate(adminCommonName(name), publicKeyPem);
  }

  /** Signs the coordinator's provenance key: CN = `provenance`, document-signing usage only. */
  async issueProvenanceCertificate(publicKeyPem: string): Promise<string> {
    return this.issueClientCertificate("provenance", publicKeyPem, "document-signing");
  }

  private async issueClientCertificate(commonName: string, publicKeyPem: string, usage: "client" | "document-signing" = "client"): Promise<string> {
    let publicKey: CryptoKey;
    try {
      publicKey = await publicKeyFromPem(publicKeyPem);
    } catch (cause) {
      throw new BadInputError("public key must be an SPKI PEM EC P-256 key", { field: "publicKey", cause });
    }
    const { createLeafCertificate } = await builders();
    const leaf = await createLeafCertificate(await this.signer(), {
      commonName,
      publicKey,
      usage,
      now: this.now(),
      validityDays: this.leafValidityDays,
    });
    return leaf.toString("pem") + "\n";
  }

  /** The clock's now and the notAfter of a leaf issued now (its validity, cut at the CA's end): what a kept leaf is held to. */
  leafWindow(): { now: Date; latestNotAfter: Date } {
    const now = this.now();
    return { now, latestNotAfter: new Date(Math.min(now.getTime() + this.leafValidityDays * DAY_MS, new Date(this.cert.validTo).getTime())) };
  }

  private signer(): Promise<CaSigner> {
    this.signing ??= builders().then(({ caSigner }) => caSigner(this.certPem, this.privateKey));
    return this.signing;
  }
}
