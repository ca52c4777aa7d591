import type { NatsConnection, TlsOptions } from "@nats-io/nats-core";
import { nkeyJwtAuthenticator } from "../../shared/nats/nkey-ed25519.ts";
import { connect } from "@nats-io/transport-node";
import { z } from "zod";

/**
 * Sends a new account JWT to the NATS servers' `full` resolvers: the
 * documented `$SYS.REQ.CLAIMS.UPDATE` request, published as a system-account
 * user. Every server of a cluster subscribes to it (the system account spans
 * the routes), stores the JWT if it is newer and applies it at once: users
 * the JWT revokes are disconnected ("User Authentication Revoked") and
 * refused from then on. One server's reply is awaited; its refusal is an error.
 */

export class NatsAccountPushError extends Error {
  override readonly name = "NatsAccountPushError";
}

const ReplySchema = z.object({
  data: z.object({ code: z.number(), message: z.string().optional(), account: z.string().optional() }).optional(),
  error: z.object({ code: z.number().optional(), description: z.string().optional() }).optional(),
});

export interface NatsAccountPushOptions {
  readonly servers: string | string[];
  /** The system-account user: a JWT and its nkey seed. */
  readonly systemUser: { readonly jwt: string; readonly seed: string };
  readonly tls?: TlsOptions;
  readonly timeoutMs?: number;
}

/** One connection as the system user, kept open (it reconnects like any client). */
export class NatsAccountPush {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {}

  static async open(o: NatsAccountPushOptions): Promise<NatsAccountPush> {
    const nc = await connect({
      servers: o.servers,
      authenticator: nkeyJwtAuthenticator(o.systemUser.jwt, o.systemUser.seed),
      ...(o.tls ? { tls: o.tls } : {}),
      name: "nightshift-account-push",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    return new NatsAccountPush(nc, o.timeoutMs ?? 5000);
  }

  /** The system user's connection, also where the server's client advisories are read (agent-disconnect-watch.ts). */
  get connection(): NatsConnection {
    return this.nc;
  }

  /** Pushes `accountJwt`; resolves once a server says it stored it. */
  async push(accountJwt: string): Promise<void> {
    let text: string;
    try {
      text = (await this.nc.request("$SYS.REQ.CLAIMS.UPDATE", accountJwt, { timeout: this.timeoutMs })).string();
    } catch (err) {
      throw new NatsAccountPushError(`no NATS server confirmed the account update: ${(err as Error).message}`, { cause: err });
    }
    const reply = ReplySchema.safeParse(parseJson(text));
    const code = reply.success ? (reply.data.data?.code ?? reply.data.error?.code) : undefined;
    if (code !== 200) throw new NatsAccountPushError(`NATS server refused the account update: ${text.slice(0, 300)}`);
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
