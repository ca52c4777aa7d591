/**
 * Why this file exists: the ceiling a gRPC sink can reach on this machine.
 * The sink bench compares the ResultSink with raw TCP and raw TLS copies; this
 * is the third baseline, bare grpc-js: one client-streaming call over mutual
 * TLS, one message per frame (as the uploader sends them), no protobuf (the
 * message is the frame's bytes), to a server that appends each message to one
 * file, awaiting each write, fsyncs at the end and answers. The server's
 * HTTP/2 receive window is widened as the coordinator's is. Whatever the sink
 * loses against this arm is nightshift's; what this arm loses against raw TLS
 * is grpc-js's and Node's (HTTP/2 framing, message copies).
 */
import { once } from "node:events";
import { mkdirSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import { widenReceiveWindow } from "../coordinator/grpc/http2-receive-window.ts";
import { nowSeconds } from "./bench-cli.ts";
import { storeInOneFile, type RawTlsMaterial } from "./raw-tcp-copy.ts";

const MAX_MESSAGE = 64 * 1024 * 1024;
const identity = (b: Buffer): Buffer => b;

/** A single client-streaming method whose messages are raw bytes. */
const COPY_SERVICE: grpc.ServiceDefinition = {
  copy: {
    path: "/nightshift.bench.RawCopy/Copy",
    requestStream: true,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

export interface RawGrpcReceiver {
  readonly port: number;
  /** Settles with the bytes stored by the one copy. */
  readonly received: Promise<number>;
  close(): Promise<void>;
}

/** A grpc-js server on 127.0.0.1 that stores one stream's messages in `dir/received.bin`. */
export async function listenRawGrpcReceiver(dir: string, tls: RawTlsMaterial): Promise<RawGrpcReceiver> {
  mkdirSync(dir, { recursive: true });
  let settle: { resolve: (n: number) => void; reject: (err: unknown) => void } | undefined;
  const received = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
  received.catch(() => undefined);
  const server = new grpc.Server({ "grpc.max_receive_message_length": MAX_MESSAGE });
  server.addService(COPY_SERVICE, {
    copy: (call: grpc.ServerReadableStream<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      storeInOneFile(dir, call as AsyncIterable<Buffer>).then(
        (n) => {
          done(null, Buffer.from([1]));
          settle?.resolve(n);
        },
        (err: unknown) => {
          done({ code: grpc.status.INTERNAL, details: String(err) });
          settle?.reject(err);
        },
      );
    },
  });
  const creds = grpc.ServerCredentials.createSsl(Buffer.from(tls.caPem), [{ cert_chain: Buffer.from(tls.certPem), private_key: Buffer.from(tls.keyPem) }], true);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", creds, (err, p) => (err ? reject(err) : resolve(p))));
  widenReceiveWindow(server);
  return { port, received, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

/** Sends `payloads` as one stream to a RawGrpcReceiver; seconds from the call's start to the server's answer (after its fsync). */
export async function sendRawGrpc(port: number, payloads: readonly Uint8Array[], tls: RawTlsMaterial): Promise<number> {
  const Client = grpc.makeGenericClientConstructor(COPY_SERVICE, "RawCopy");
  const creds = grpc.credentials.createSsl(Buffer.from(tls.caPem), Buffer.from(tls.keyPem), Buffer.from(tls.certPem));
  const client = new Client(`127.0.0.1:${port}`, creds, { "grpc.ssl_target_name_override": tls.servername, "grpc.max_send_message_length": MAX_MESSAGE });
  try {
    const started = nowSeconds();
    await new Promise<void>((resolve, reject) => {
      const call = (client as unknown as { copy(cb: (err: grpc.ServiceError | null) => void): grpc.ClientWritableStream<Buffer> }).copy((err) => (err ? reject(err) : resolve()));
      const pump = async (): Promise<void> => {
        for (const p of payloads) {
          const buf = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
          if (!call.write(buf)) await once(call, "drain");
        }
        call.end();
      };
      pump().catch(reject);
    });
    return nowSeconds() - started;
  } finally {
    client.close();
  }
}
