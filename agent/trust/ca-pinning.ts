import { createHash, X509Certificate } from "node:crypto";
import { connect, type DetailedPeerCertificate } from "node:tls";
import { BadInputError } from "../../shared/errors.ts";
import { COORDINATOR_TLS_NAME } from "../../shared/tls/identity-names.ts";
import { normalizeFingerprint } from "../../shared/tls/pem-keys.ts";

/**
 * Before enrollment the agent has no CA to verify the coordinator with. It
 * has a pin instead: the CA fingerprint from `--ca-fingerprint` (printed by
 * `nightshift token create`) or, weaker, from the coordinator's mDNS TXT
 * record. `fetchPinnedCa` opens a TLS connection without verification, reads
 * the chain the server sends (leaf + studio CA), and returns the CA only if
 * its fingerprint matches the pin and it signed the leaf. Everything after
 * that (enrollment included) runs over a channel that trusts only this CA, so
 * the join token is never sent to a server that cannot prove the pinned CA.
 */

/** Shortest fingerprint prefix accepted as a pin: 64 bits. */
export const MIN_PIN_HEX = 16;

export class CaPinMismatchError extends Error {
  override readonly name = "CaPinMismatchError";
  constructor(
    message: string,
    readonly presented: readonly string[],
  ) {
    super(message);
  }
}

/** True when `actual` (full sha256 hex) starts with the pin (full or a prefix of at least 16 hex digits). */
export function fingerprintMatches(actual: string, pin: string): boolean {
  const p = normalizeFingerprint(pin);
  return p.length >= MIN_PIN_HEX && /^[0-9a-f]+$/.test(p) && normalizeFingerprint(actual).startsWith(p);
}

export function assertPin(pin: string, field = "caFingerprint"): void {
  const p = normalizeFingerprint(pin);
  if (p.length < MIN_PIN_HEX || p.length > 64 || !/^[0-9a-f]+$/.test(p)) {
    throw new BadInputError(`${field} must be ${MIN_PIN_HEX}-64 hex digits of the studio CA's sha256`, { field });
  }
}

export interface FetchPinnedCaOptions {
  readonly host: string;
  readonly port: number;
  readonly pin: string;
  readonly servername?: string;
  readonly timeoutMs?: number;
}

/** Returns the studio CA certificate (PEM) presented by the server at host:port, if it matches the pin. */
export async function fetchPinnedCa(options: FetchPinnedCaOptions): Promise<string> {
  assertPin(options.pin);
  const chain = await presentedChain(options);
  const leaf = chain[0];
  if (leaf === undefined) throw new CaPinMismatchError("server presented no certificate", []);
  const fingerprints = chain.map((c) => createHash("sha256").update(c.raw).digest("hex"));
  const index = fingerprints.findIndex((f) => fingerprintMatches(f, options.pin));
  const ca = index < 0 ? undefined : chain[index];
  if (ca === undefined || !ca.ca || !leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) {
    throw new CaPinMismatchError(
      `${options.host}:${options.port} did not present a CA matching the pinned fingerprint ${normalizeFingerprint(options.pin)}`,
      fingerprints,
    );
  }
  return ca.toString();
}

/**
 * Trust on first use, for an agent given neither --ca-fingerprint nor an mDNS
 * TXT record (only --coordinator): the fingerprint of the CA the server
 * presents and that signed its leaf. Pin it, then call fetchPinnedCa.
 */
export async function presentedCaFingerprint(options: Omit<FetchPinnedCaOptions, "pin">): Promise<string> {
  const chain = await presentedChain({ ...options, pin: "" });
  const leaf = chain[0];
  const ca = chain.slice(1).find((c) => c.ca && leaf !== undefined && leaf.checkIssued(c) && leaf.verify(c.publicKey));
  if (ca === undefined) throw new CaPinMismatchError(`${options.host}:${options.port} presented no CA certificate that signed its own`, []);
  return createHash("sha256").update(ca.raw).digest("hex");
}

function presentedChain(options: FetchPinnedCaOptions): Promise<X509Certificate[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: options.host,
      port: options.port,
      servername: options.servername ?? COORDINATOR_TLS_NAME,
      rejectUnauthorized: false, // verified below against the pin, then by a channel that trusts only the pinned CA
      ALPNProtocols: ["h2"],
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`TLS handshake with ${options.host}:${options.port} timed out`));
    }, options.timeoutMs ?? 5000);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const chain = walkChain(socket.getPeerCertificate(true));
      // Ended, not destroyed: destroy() would drop this side's TLS Finished still on its way out, and the
      // coordinator's front would see a handshake cut short and log it as a refused connection.
      socket.once("finish", () => socket.destroy());
      socket.end();
      resolve(chain);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

function walkChain(peer: DetailedPeerCertificate): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let current: DetailedPeerCertificate | undefined = peer;
  while (current?.raw !== undefined && chain.length < 8) {
    const key = current.raw.toString("base64");
    if (seen.has(key)) break;
    seen.add(key);
    chain.push(new X509Certificate(current.raw));
    current = current.issuerCertificate;
  }
  return chain;
}
