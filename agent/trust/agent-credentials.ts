import { createPublicKey, X509Certificate } from "node:crypto";
import { join } from "node:path";
import { BadInputError } from "../../shared/errors.ts";
import { certificateFingerprint } from "../../shared/tls/pem-keys.ts";
import { readIfExists, writeFileAtomic } from "../../shared/tls/secret-file.ts";
import type { AgentKeys } from "./agent-keys.ts";
import { AGENT_KEY_FILE } from "./agent-keys.ts";
import { fingerprintMatches } from "./ca-pinning.ts";

/**
 * What an enrolled agent keeps in its data dir: agent.key (agent-keys.ts),
 * agent.crt (signed by the studio CA, CN = agent id) and ca.crt (the pinned
 * studio CA; every later connection trusts only this file).
 */

export const AGENT_CERT_FILE = "agent.crt";
export const PINNED_CA_FILE = "ca.crt";

export interface AgentCredentials {
  readonly agentId: string;
  readonly keyPem: string;
  readonly certPem: string;
  readonly caPem: string;
  readonly caFingerprint: string;
}

export interface EnrollmentAnswer {
  readonly certPem: string;
  readonly caPem: string;
}

/**
 * Checks the coordinator's answer (the certificate is for our key, signed by
 * the CA, and the CA is the pinned one) and stores it. Throws BadInputError
 * naming what does not fit; nothing is written then.
 */
export async function saveEnrollment(
  dir: string,
  keys: AgentKeys,
  answer: EnrollmentAnswer,
  pinnedCaFingerprint: string,
): Promise<AgentCredentials> {
  const credentials = checkCredentials(keys.privateKeyPem, answer.certPem, answer.caPem, keys.publicKeyPem);
  if (!fingerprintMatches(credentials.caFingerprint, pinnedCaFingerprint)) {
    throw new BadInputError(
      `enrollment answer carries CA ${credentials.caFingerprint}, not the pinned ${pinnedCaFingerprint}`,
      { field: "caFingerprint" },
    );
  }
  await writeFileAtomic(join(dir, PINNED_CA_FILE), answer.caPem, 0o644);
  await writeFileAtomic(join(dir, AGENT_CERT_FILE), answer.certPem, 0o644);
  return credentials;
}

/** The stored credentials, or undefined when the agent has not enrolled yet (no agent.crt). */
export async function loadAgentCredentials(dir: string): Promise<AgentCredentials | undefined> {
  const certPem = await readIfExists(join(dir, AGENT_CERT_FILE));
  if (certPem === undefined) return undefined;
  const keyPem = await readIfExists(join(dir, AGENT_KEY_FILE));
  const caPem = await readIfExists(join(dir, PINNED_CA_FILE));
  if (keyPem === undefined || caPem === undefined) {
    const missing = keyPem === undefined ? AGENT_KEY_FILE : PINNED_CA_FILE;
    throw new BadInputError(`${join(dir, missing)} is missing beside ${AGENT_CERT_FILE}; re-enroll the agent`, {
      field: join(dir, missing),
    });
  }
  const publicKeyPem = createPublicKey(keyPem).export({ type: "spki", format: "pem" }).toString();
  return checkCredentials(keyPem, certPem, caPem, publicKeyPem);
}

function checkCredentials(keyPem: string, certPem: string, caPem: string, publicKeyPem: string): AgentCredentials {
  let cert: X509Certificate;
  let ca: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    ca = new X509Certificate(caPem);
  } catch (cause) {
    throw new BadInputError("agent certificate or CA is not a PEM certificate", { field: AGENT_CERT_FILE, cause });
  }
  const certKey = cert.publicKey.export({ type: "spki", format: "pem" }).toString();
  if (certKey.trim() !== publicKeyPem.trim()) {
    throw new BadInputError("agent certificate is not for this agent's key", { field: AGENT_CERT_FILE });
  }
  if (!ca.ca || !cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    throw new BadInputError("agent certificate is not signed by the studio CA", { field: AGENT_CERT_FILE });
  }
  const agentId = cert.subject.split("\n").find((l) => l.startsWith("CN="))?.slice(3) ?? "";
  return { agentId, keyPem, certPem, caPem, caFingerprint: certificateFingerprint(caPem) };
}
