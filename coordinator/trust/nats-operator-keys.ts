import { join } from "node:path";
import { encodeAccount, encodeOperator, encodeUser, type KeyPair } from "@nats-io/jwt";
import { createNkey, nkeyFromSeed } from "../../shared/nats/nkey-ed25519.ts";
import { ensureSecretDirectory, readIfExists, writeFileAtomic } from "../../shared/tls/secret-file.ts";
import type { SubjectPermissions } from "./nats-auth-config.ts";
import { BadInputError } from "../../shared/errors.ts";

/**
 * NATS decentralized authentication, the coordinator's side: it holds the
 * operator key, the key of the account every nightshift client lives in, and
 * the key of the system account (`<data-dir>/nats-operator/*.nk`, 0600 in a
 * 0700 folder; only seeds, no JWT is stored: they are signed again when
 * needed). From them it signs:
 * - the operator JWT (what every nats-server trusts: `operator:` in its config),
 * - the account JWTs (pushed to the servers' resolvers), the nightshift account
 *   carrying JetStream limits and the revocation list of removed agents,
 * - one user JWT per agent (its subject permissions inside), and short-lived
 *   in-memory users for the coordinator itself and for pushing account updates.
 * The keys sign through node:crypto (shared/nats/nkey-ed25519.ts): the same
 * signatures as nkeys.js, at a small fraction of its CPU per agent.
 * Any nats-server or cluster configured with the operator JWT and a resolver
 * accepts these users; none of it depends on rewriting a server's config.
 */

export const NATS_ACCOUNT_NAME = "nightshift";
const SYSTEM_ACCOUNT_NAME = "SYS";
const OPERATOR_NAME = "nightshift-operator";

/** An account JWT without limits says so (-1): fields left out read as 0, i.e. no connection allowed. */
const NO_LIMITS = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 } as const;

/** A user credential: its JWT and the nkey seed that proves it ("SU..."). */
export interface NatsUserCredential {
  readonly jwt: string;
  readonly seed: string;
  readonly publicKey: string;
}

/** Revoked user public key -> unix seconds: user JWTs issued at or before that second are refused. */
export type NatsRevocations = Readonly<Record<string, number>>;

export class NatsOperatorKeys {
  private constructor(
    private readonly operator: KeyPair,
    private readonly account: KeyPair,
    private readonly system: KeyPair,
  ) {}

  /** Loads the three seeds from `<dataDir>/nats-operator/`, creating the missing ones. */
  static async open(dataDir: string): Promise<NatsOperatorKeys> {
    const dir = join(dataDir, "nats-operator");
    await ensureSecretDirectory(dir);
    const load = async (name: string, create: () => KeyPair, prefix: string): Promise<KeyPair> => {
      const path = join(dir, `${name}.nk`);
      const text = (await readIfExists(path))?.trim();
      if (text !== undefined) {
        const pair = nkeyFromSeed(text);
        if (!pair.getPublicKey().startsWith(prefix)) throw new Error(`${path}: not a NATS ${name} seed`);
        return pair;
      }
      const pair = create();
      await writeFileAtomic(path, new TextDecoder().decode(pair.getSeed()), 0o600);
      return pair;
    };
    return new NatsOperatorKeys(
      await load("operator", () => createNkey("operator"), "O"),
      await load("account", () => createNkey("account"), "A"),
      await load("system-account", () => createNkey("account"), "A"),
    );
  }

  get operatorPublicKey(): string {
    return this.operator.getPublicKey();
  }

  get accountPublicKey(): string {
    return this.account.getPublicKey();
  }

  get systemAccountPublicKey(): string {
    return this.system.getPublicKey();
  }

  /** The operator JWT, naming the system account. */
  operatorJwt(): Promise<string> {
    return encodeOperator(OPERATOR_NAME, this.operator, { system_account: this.system.getPublicKey() });
  }

  /** The system account's JWT (no JetStream: nats-server refuses it there). */
  systemAccountJwt(): Promise<string> {
    return encodeAccount(SYSTEM_ACCOUNT_NAME, this.system, { limits: { ...NO_LIMITS } }, { signer: this.operator });
  }

  /** Issue second (`iat`) of the last account JWT made here. */
  private lastAccountIat = 0;

  /**
   * The nightshift account's JWT: JetStream without limits, and the removed
   * agents' keys revoked. Each one is issued in a later second than the one
   * before (waiting for the next second when needed, at most one): a
   * resolver that catches up after being down keeps the JWT with the later
   * `iat`, and two account JWTs of the same second (two agents removed in
   * quick succession) would tie, so a node could keep the older revocations.
   */
  async accountJwt(revocations: NatsRevocations): Promise<string> {
    const nowSecond = (): number => Math.floor(Date.now() / 1000);
    while (nowSecond() <= this.lastAccountIat) await new Promise((resolve) => setTimeout(resolve, 1000 * (this.lastAccountIat + 1) - Date.now() + 5));
    this.lastAccountIat = nowSecond();
    const jwt = await encodeAccount(
      NATS_ACCOUNT_NAME,
      this.account,
      {
        limits: { ...NO_LIMITS, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
        revocations: { ...revocations },
      },
      { signer: this.operator },
    );
    // The library stamps iat itself, a moment later: keep the second it actually used. Read from the claims without
    // checking the signature made just above (the library's decode checks it with nkeys.js's pure-JS ed25519:
    // 85-140 ms of a coordinator start at load 7, the largest part of the trust step, thirteenth round).
    this.lastAccountIat = Math.max(this.lastAccountIat, issuedAt(jwt));
    return jwt;
  }

  /** A user JWT for the agent's public key ("U..."; a seed is refused), signed by the account, holding its permissions. */
  async agentJwt(agentId: string, userPublicKey: string, permissions: SubjectPermissions): Promise<string> {
    if (!/^U[A-Z2-7]{55}$/.test(userPublicKey)) {
      throw new BadInputError(`NATS user key "${userPublicKey.slice(0, 8)}..." is not a public user nkey (U + 55 base32 characters)`, { field: "nats.nkey" });
    }
    return encodeUser(`agent-${agentId}`, userPublicKey, this.account, {
      pub: { allow: [...permissions.publish] },
      sub: { allow: [...permissions.subscribe] },
      // Like `allow_responses: true`: one reply to each request it received, within the server's default 2 minutes.
      resp: { max: 1, ttl: 0 },
    });
  }

  /** A fresh user of the nightshift account with every permission (the coordinator's own connection). */
  coordinatorUser(): Promise<NatsUserCredential> {
    return freshUser("nightshift-coordinator", this.account);
  }

  /** A fresh user of the system account: it may publish account updates (`$SYS.REQ.CLAIMS.UPDATE`). */
  systemUser(): Promise<NatsUserCredential> {
    return freshUser("nightshift-account-push", this.system);
  }
}

/** The `iat` claim of a JWT signed here, unverified. */
function issuedAt(jwt: string): number {
  const claims = JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as { iat?: unknown };
  if (typeof claims.iat !== "number") throw new Error("account JWT without iat");
  return claims.iat;
}

async function freshUser(name: string, account: KeyPair): Promise<NatsUserCredential> {
  const user = createNkey("user");
  const jwt = await encodeUser(name, user, account);
  return { jwt, seed: new TextDecoder().decode(user.getSeed()), publicKey: user.getPublicKey() };
}
