import { once } from "node:events";
import { mkdirSync } from "node:fs";
import { open } from "node:fs/promises";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { connect as connectTls, createServer as createTlsServer } from "node:tls";
import { join } from "node:path";
import { writeFileDurable } from "../coordinator/sink/durable-fs.ts";
import { createCaCertificate, createLeafCertificate } from "../coordinator/trust/leaf-certificates.ts";
import { generateEcKeyPair, privateKeyToPem } from "../shared/tls/pem-keys.ts";
import { nowSeconds } from "./bench-cli.ts";

/**
 * The sink's baseline: the same bytes, in the same frame-sized writes, over a
 * plain TCP (or, with `tls`, mutual TLS) connection on 127.0.0.1 to a server that puts them on disk.
 *  - "one-file": the server appends everything it receives to one file,
 *    awaiting each write (so a slow disk pauses the socket), and fsyncs once
 *    at the end.
 *  - "file-per-frame": the server cuts the stream into frames and writes each
 *    to its own new file with fsync, with the sink's own writeFileDurable (no
 *    checksum, no rename, no SQLite).
 * The clock runs from connect to the server's one-byte reply, sent after the
 * last fsync and close.
 */
export type RawTcpMode = "one-file" | "file-per-frame";

/** TLS on the raw copy: the server's and the client's material (both from one studio-like CA), mutual TLS. */
export interface RawTlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
  /** The name in the server certificate that the client checks. */
  servername: string;
}

export interface RawTcpCopyOptions {
  dir: string;
  mode: RawTcpMode;
  /** The frames to send, in order. */
  payloads: readonly Uint8Array[];
}

export interface RawTcpCopyResult {
  bytes: number;
  seconds: number;
}

/**
 * The "one-file" receiver's store, shared with the bare grpc-js arm (raw-grpc-copy.ts): appends each
 * buffer to `dir/received.bin`, awaiting each write, fsyncs once at the end; answers the bytes stored.
 */
export async function storeInOneFile(dir: string, buffers: AsyncIterable<Uint8Array>): Promise<number> {
  let total = 0;
  const fh = await open(join(dir, "received.bin"), "wx", 0o644);
  try {
    for await (const b of buffers) {
      await fh.write(b);
      total += b.length;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return total;
}

async function receive(sock: Socket, dir: string, mode: RawTcpMode, frameBytes: number): Promise<number> {
  if (mode === "one-file") return storeInOneFile(dir, sock.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>);
  let total = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;
  for await (const chunk of sock.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    total += chunk.length;
    while (pendingBytes >= frameBytes) {
      const all = Buffer.concat(pending, pendingBytes);
      await writeFileDurable(join(dir, `${String(index++).padStart(9, "0")}.frame`), all.subarray(0, frameBytes));
      pending = pendingBytes > frameBytes ? [all.subarray(frameBytes)] : [];
      pendingBytes -= frameBytes;
    }
  }
  if (pendingBytes > 0) await writeFileDurable(join(dir, `${String(index).padStart(9, "0")}.frame`), Buffer.concat(pending, pendingBytes));
  return total;
}

/** A CA and one leaf for both ends of the raw TLS copy: ECDSA P-256 like the studio's, mutual TLS like the gRPC port. */
export async function rawTlsMaterial(): Promise<RawTlsMaterial> {
  const now = new Date();
  const caKeys = await generateEcKeyPair();
  const ca = await createCaCertificate(caKeys, "raw-copy-bench CA", now, 1);
  const leafKeys = await generateEcKeyPair();
  const leaf = await createLeafCertificate({ cert: ca, privateKey: caKeys.privateKey }, { commonName: "raw-copy-bench", publicKey: leafKeys.publicKey, usage: "server-and-client", dnsNames: ["raw-copy-bench.internal"], now, validityDays: 1 });
  return { caPem: ca.toString("pem"), certPem: leaf.toString("pem"), keyPem: privateKeyToPem(leafKeys.privateKey), servername: "raw-copy-bench.internal" };
}

/** A receiving server on 127.0.0.1 for one connection; `received` settles with the bytes it stored. */
export interface RawTcpReceiver {
  readonly port: number;
  readonly received: Promise<number>;
  close(): void;
}

/**
 * Listens for one sender and stores what it sends into `dir` as `mode` says,
 * replying one byte after the last fsync. Apart from runRawTcpCopy, a bench
 * can run it in another process than the sender (bench/asset-fetch-process.ts).
 */
export async function listenRawTcpReceiver(dir: string, mode: RawTcpMode, frameBytes: number, tls?: RawTlsMaterial): Promise<RawTcpReceiver> {
  mkdirSync(dir, { recursive: true });
  let settle: { resolve: (n: number) => void; reject: (err: unknown) => void } | undefined;
  const received = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
  received.catch(() => undefined); // read by the caller; a sender that never connects leaves it pending
  const onConnection = (sock: Socket): void => {
    server.close(); // one connection per copy
    receive(sock, dir, mode, frameBytes).then(
      (n) => {
        sock.end(Buffer.from([1]));
        settle?.resolve(n);
      },
      (err: unknown) => {
        sock.destroy();
        settle?.reject(err);
      },
    );
  };
  const server: Server = tls
    ? createTlsServer({ ca: tls.caPem, cert: tls.certPem, key: tls.keyPem, requestCert: true, rejectUnauthorized: true, allowHalfOpen: true }, onConnection)
    : createServer({ allowHalfOpen: true }, onConnection);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as AddressInfo).port, received, close: () => server.close() };
}

/** Sends `payloads` to a receiver on 127.0.0.1:`port`; seconds from connect to the receiver's reply after its fsync. */
export async function sendRawTcp(port: number, payloads: readonly Uint8Array[], tls?: RawTlsMaterial): Promise<number> {
  const started = nowSeconds();
  const sock: Socket = tls
    ? connectTls({ host: "127.0.0.1", port, ca: tls.caPem, cert: tls.certPem, key: tls.keyPem, servername: tls.servername })
    : connect({ host: "127.0.0.1", port });
  try {
    await once(sock, tls ? "secureConnect" : "connect");
    const acked = new Promise<void>((resolve, reject) => {
      sock.once("data", () => resolve());
      sock.once("error", reject);
      sock.once("close", () => reject(new Error("raw tcp copy: connection closed before the server's reply")));
    });
    for (const p of payloads) {
      if (!sock.write(p)) await once(sock, "drain");
    }
    sock.end();
    await acked;
    return nowSeconds() - started;
  } finally {
    sock.destroy();
  }
}

/** Checks the payloads (non-empty, one size) and returns that size. */
export function rawFrameBytes(payloads: readonly Uint8Array[]): number {
  const frameBytes = payloads[0]?.length ?? 0;
  if (frameBytes === 0 || payloads.some((p) => p.length !== frameBytes)) throw new Error("raw tcp copy: payloads must be non-empty and of one size");
  return frameBytes;
}

export async function runRawTcpCopy(o: RawTcpCopyOptions): Promise<RawTcpCopyResult> {
  const frameBytes = rawFrameBytes(o.payloads);
  const receiver = await listenRawTcpReceiver(o.dir, o.mode, frameBytes);
  try {
    const seconds = await sendRawTcp(receiver.port, o.payloads);
    const bytes = await receiver.received;
    if (bytes !== frameBytes * o.payloads.length) throw new Error(`raw tcp copy: server stored ${bytes} bytes, ${frameBytes * o.payloads.length} sent`);
    return { bytes, seconds };
  } finally {
    receiver.close();
  }
}
