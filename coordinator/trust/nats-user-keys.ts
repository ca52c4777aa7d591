import { rm } from "node:fs/promises";
import { join } from "node:path";
import { createNkey, publicKeyOfSeed } from "../../shared/nats/nkey-ed25519.ts";
import { assertAgentId } from "../../shared/tls/identity-names.ts";
import { ensureSecretDirectory, readIfExists, writeFileAtomic } from "../../shared/tls/secret-file.ts";

/**
 * Each agent's NATS identity is an nkey (ed25519) user: nats-server lists only
 * the public key ("U..."), the store keeps only the public key, and the seed
 * (the secret, "SU...") lives in `<data-dir>/nats-users/<agent-id>.nk`, 0600
 * in a 0700 folder, until the coordinator hands it to the agent at Join over
 * mutual TLS. Removing an agent deletes its seed as well as its server entry.
 */
export class NatsUserKeys {
  private constructor(private readonly dir: string) {}

  static async open(dataDir: string): Promise<NatsUserKeys> {
    const dir = join(dataDir, "nats-users");
    await ensureSecretDirectory(dir);
    return new NatsUserKeys(dir);
  }

  /** A fresh user key for `agentId` (replacing any earlier one); returns its public key. */
  async create(agentId: string): Promise<string> {
    const pair = createNkey("user");
    await writeFileAtomic(this.path(agentId), new TextDecoder().decode(pair.getSeed()), 0o600);
    return pair.getPublicKey();
  }

  /** The agent's seed if it has one whose public key is `publicKey`. */
  async seed(agentId: string, publicKey: string): Promise<string | undefined> {
    const seed = (await readIfExists(this.path(agentId)))?.trim();
    if (seed === undefined) return undefined;
    return publicKeyOfSeed(seed) === publicKey ? seed : undefined;
  }

  async delete(agentId: string): Promise<void> {
    await rm(this.path(agentId), { force: true });
  }

  private path(agentId: string): string {
    assertAgentId(agentId);
    return join(this.dir, `${agentId}.nk`);
  }
}

/** The coordinator's own user: a fresh key on every start, held in memory only. */
export function ephemeralNatsUser(): { seed: string; publicKey: string } {
  const pair = createNkey("user");
  return { seed: new TextDecoder().decode(pair.getSeed()), publicKey: pair.getPublicKey() };
}
