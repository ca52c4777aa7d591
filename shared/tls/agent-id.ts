import { createHash, createPublicKey } from "node:crypto";
import { BadInputError } from "../errors.ts";

/**
 * An agent's id is derived from its public key: `agt-` and the first 80 bits
 * of the sha256 of the key's SPKI DER, in hex. The id the agent advertises
 * over mDNS before it enrolls is therefore the id it enrolls under, and no
 * other key can claim it (the coordinator derives the id itself, never takes
 * the agent's word for it). A removed agent that wants back in needs a new key.
 */
export function agentIdForPublicKey(publicKeyPem: string): string {
  return `agt-${publicKeyFingerprint(publicKeyPem).slice(0, 20)}`;
}

/** sha256 of the key's SPKI DER, hex: what an admin compares with the agent's own log before approving it. */
export function publicKeyFingerprint(publicKeyPem: string): string {
  let der: Buffer;
  try {
    der = createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
  } catch (cause) {
    throw new BadInputError("public key must be an SPKI PEM key", { field: "publicKey", cause });
  }
  return createHash("sha256").update(der).digest("hex");
}
