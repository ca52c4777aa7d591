import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { ConnectionInjector } from "@grpc/grpc-js";
import type { Clock } from "../../shared/clock.ts";
import type { Logger } from "../../shared/log.ts";
import type { ServerTlsMaterial } from "../../shared/tls/grpc-credentials.ts";
import { RefusalLog } from "./refusal-log.ts";
import { pinPeerCertificate } from "./pin-peer-certificate.ts";

/**
 * The TCP and TLS front of a gRPC port. grpc-js runs its own TLS server with
 * Node's defaults and hides it: a connection may sit 120 s without finishing
 * a handshake, one address may open as many as it likes, and refused
 * handshakes are not logged. This front accepts the TCP connections itself,
 * caps how many one address may have in the handshake at once, closes those
 * that have not finished it within the deadline, logs refusals once per
 * address and minute (RefusalLog), and hands each finished, verified TLS
 * connection to grpc-js through Server#createConnectionInjector (gRFC L114),
 * which speaks HTTP/2 on it as on one of its own. No extra hop: the bytes go
 * from the TLS socket to grpc-js's HTTP/2 session as before.
 */

export interface TlsFrontLimits {
  /** A connection that has not finished its TLS handshake by then is closed. Default 10 s. */
  readonly handshakeTimeoutMs: number;
  /** Connections one address may have in the TLS handshake at once; more are closed at accept. Default 16. */
  readonly maxHandshakesPerAddress: number;
  /** Refusals are logged once per address per window. Default 60 s. */
  readonly refusalLogWindowMs: number;
}

export const DEFAULT_TLS_FRONT_LIMITS: TlsFrontLimits = { handshakeTimeoutMs: 10_000, maxHandshakesPerAddress: 16, refusalLogWindowMs: 60_000 };

export interface TlsFrontOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: ServerTlsMaterial;
  /** Mutual TLS: a client without a certificate from the studio CA is refused (false only for enrollment). */
  readonly requireClientCertificate: boolean;
  readonly injector: ConnectionInjector;
  readonly limits?: Partial<TlsFrontLimits>;
  readonly log: Logger;
  readonly clock: Clock;
}

/** What the front did since it started. */
export interface TlsFrontStats {
  /** Handed to grpc-js after a verified handshake. */
  handedOver: number;
  /** Closed at accept: the address already had the maximum in the handshake. */
  overCap: number;
  /** Closed at the handshake deadline. */
  timedOut: number;
  /** Handshake failed, client certificate refused, or closed by the peer during the handshake. */
  failed: number;
}

export interface TlsFront {
  readonly port: number;
  /** Connections now in the TLS handshake, per address. */
  handshaking(): ReadonlyMap<string, number>;
  /** The most connections `address` has had in the handshake at once. */
  peakHandshaking(address: string): number;
  stats(): Readonly<TlsFrontStats>;
  /** Stops accepting and closes connections still in the handshake; finished ones belong to grpc-js. */
  close(): Promise<void>;
}

interface Pending {
  readonly raw: Socket;
  readonly address: string;
  readonly timer: NodeJS.Timeout;
  settled: boolean;
  /** Why the handshake failed, when the TLS server said. */
  reason: string | undefined;
}

/** The one message of every refusal; `reason` says which. */
export const REFUSED = "connection refused at the TLS front";

export async function startTlsFront(o: TlsFrontOptions): Promise<TlsFront> {
  const limits = { ...DEFAULT_TLS_FRONT_LIMITS, ...o.limits };
  const refusals = new RefusalLog(o.log, o.clock, limits.refusalLogWindowMs);
  const perAddress = new Map<string, number>();
  const peaks = new Map<string, number>();
  const stats: TlsFrontStats = { handedOver: 0, overCap: 0, timedOut: 0, failed: 0 };
  // The TLS server only hands us its TLSSocket; the peer's address and port (unique among open connections) lead
  // back to the raw connection while both are open. Whatever the TLS server says or not, the raw socket's close
  // settles the connection: every connection is counted down once and every failed one logged once.
  const pending = new Map<string, Pending>();
  const key = (address: string | undefined, port: number | undefined) => `${address ?? "?"}|${port ?? 0}`;

  const settle = (p: Pending): void => {
    if (p.settled) return;
    p.settled = true;
    clearTimeout(p.timer);
    pending.delete(key(p.raw.remoteAddress, p.raw.remotePort));
    const left = (perAddress.get(p.address) ?? 1) - 1;
    if (left <= 0) perAddress.delete(p.address);
    else perAddress.set(p.address, left);
  };
  const fail = (p: Pending, reason: string, counter: "failed" | "timedOut" = "failed"): void => {
    if (p.settled) return;
    settle(p);
    stats[counter]++;
    refusals.refused(p.address, { reason }, REFUSED);
  };

  // Verification is done here rather than by Node (rejectUnauthorized), so that a foreign certificate is logged
  // like any other refusal: Node would close such a connection after the handshake without a word. The handshake
  // deadline is ours too (an absolute one; Node's handshakeTimeout restarts with every byte).
  const tlsServer = createTlsServer({
    ca: o.tls.caPem,
    cert: o.tls.certPem,
    key: o.tls.keyPem,
    requestCert: o.requireClientCertificate,
    rejectUnauthorized: false,
    ALPNProtocols: ["h2"],
    handshakeTimeout: 0,
  });
  tlsServer.on("secureConnection", (socket: TLSSocket) => {
    const p = pending.get(key(socket.remoteAddress, socket.remotePort));
    if (o.requireClientCertificate && !socket.authorized) {
      const reason = `client certificate refused: ${socket.authorizationError ? String(socket.authorizationError) : "none"}`;
      if (p) fail(p, reason);
      else {
        stats.failed++;
        refusals.refused(socket.remoteAddress ?? "?", { reason }, REFUSED);
      }
      socket.destroy();
      return;
    }
    if (p) settle(p);
    stats.handedOver++;
    if (o.requireClientCertificate) pinPeerCertificate(socket);
    o.injector.injectConnection(socket);
  });
  tlsServer.on("tlsClientError", (err: Error & { code?: string }, socket: TLSSocket) => {
    const p = pending.get(key(socket.remoteAddress, socket.remotePort));
    if (p) p.reason = `TLS handshake failed: ${err.code ?? err.message}`;
    socket.destroy();
  });

  const tcp: TcpServer = createTcpServer({ noDelay: true }, (raw) => {
    const address = raw.remoteAddress ?? "?";
    raw.on("error", () => undefined); // the close that follows is what counts
    const count = perAddress.get(address) ?? 0;
    if (count >= limits.maxHandshakesPerAddress) {
      stats.overCap++;
      refusals.refused(address, { reason: `more than ${limits.maxHandshakesPerAddress} connections in the TLS handshake` }, REFUSED);
      raw.destroy();
      return;
    }
    perAddress.set(address, count + 1);
    if (count + 1 > (peaks.get(address) ?? 0)) {
      peaks.delete(address);
      peaks.set(address, count + 1);
      while (peaks.size > 4096) peaks.delete(peaks.keys().next().value as string);
    }
    const p: Pending = {
      raw,
      address,
      settled: false,
      reason: undefined,
      timer: setTimeout(() => {
        fail(p, `TLS handshake not finished within ${limits.handshakeTimeoutMs} ms`, "timedOut");
        raw.destroy();
      }, limits.handshakeTimeoutMs),
    };
    p.timer.unref();
    pending.set(key(raw.remoteAddress, raw.remotePort), p);
    raw.once("close", () => fail(p, p.reason ?? "closed during the TLS handshake"));
    tlsServer.emit("connection", raw);
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen({ host: o.host, port: o.port }, () => {
      tcp.off("error", reject);
      resolve();
    });
  });
  const address = tcp.address();
  const port = typeof address === "object" && address !== null ? address.port : o.port;
  return {
    port,
    handshaking: () => new Map(perAddress),
    peakHandshaking: (address) => peaks.get(address) ?? 0,
    stats: () => ({ ...stats }),
    close: async () => {
      // Connections already handed over stay grpc-js's to drain; net.Server#close would wait for them.
      tcp.close();
      for (const p of [...pending.values()]) {
        settle(p);
        p.raw.destroy();
      }
    },
  };
}
