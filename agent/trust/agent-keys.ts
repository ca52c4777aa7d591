import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../shared/log.ts";
import { silentLogger } from "../../shared/log.ts";
import { generateEcKeyPair, privateKeyFromPem, privateKeyToPem, publicPemOfPrivatePem } from "../../shared/tls/pem-keys.ts";
import { ensureSecretDirectory, isGroupOrWorldAccessible, writeFileAtomic } from "../../shared/tls/secret-file.ts";

/**
 * The agent's own key pair. The private key is made here, stays in the
 * agent's data dir (0600) and never leaves the machine; enrollment sends only
 * the SPKI public key, and the coordinator answers with a signed certificate.
 */

export const AGENT_KEY_FILE = "agent.key";

export interface AgentKeys {
  readonly keyPath: string;
  readonly privateKeyPem: string;
  /** SPKI PEM: what the agent sends to the coordinator at enrollment. */
  readonly publicKeyPem: string;
}

/** The agent's key file exists but is not a usable key. Never replaced silently. */
export class AgentKeyError extends Error {
  override readonly name = "AgentKeyError";
  constructor(
    message: string,
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export async function loadOrCreateAgentKeys(dir: string, log: Logger = silentLogger()): Promise<AgentKeys> {
  const keyPath = join(dir, AGENT_KEY_FILE);
  let pem: string | undefined;
  try {
    pem = await readFile(keyPath, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  if (pem === undefined) {
    await ensureSecretDirectory(dir);
    const keys = await generateEcKeyPair();
    const privateKeyPem = privateKeyToPem(keys.privateKey);
    await writeFileAtomic(keyPath, privateKeyPem, 0o600);
    log.info({ file: keyPath }, "agent key created");
    return { keyPath, privateKeyPem, publicKeyPem: publicPemOfPrivatePem(privateKeyPem) };
  }
  try {
    await privateKeyFromPem(pem);
  } catch (cause) {
    throw new AgentKeyError(
      `${keyPath} is not a PEM EC P-256 private key (corrupt?); delete it and re-enroll the agent`,
      keyPath,
      { cause },
    );
  }
  if (await isGroupOrWorldAccessible(keyPath)) {
    log.warn({ file: keyPath }, "agent key is readable by group or others; chmod 600 it");
  }
  return { keyPath, privateKeyPem: pem, publicKeyPem: publicPemOfPrivatePem(pem) };
}
