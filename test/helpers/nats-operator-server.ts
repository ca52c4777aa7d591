import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { jwtAuthenticator } from "@nats-io/nats-core";
import { findNatsServer } from "../../shared/nats/find-nats-server.ts";
import { writeNatsConfigFile } from "../../coordinator/trust/nats-config-file.ts";
import { renderNatsResolverConfig } from "../../coordinator/trust/nats-resolver-config.ts";
import type { NatsOperatorKeys } from "../../coordinator/trust/nats-operator-keys.ts";
import { defer } from "./defer.ts";

/**
 * Real nats-server processes in operator mode (decentralized auth) for tests:
 * the studio's operator trusted, a `full` resolver per server, the nightshift
 * and system accounts preloaded; optionally routed into a loopback cluster.
 */

export interface OperatorServer {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
}

/** The nats-server binary, or undefined (the caller skips with the reason). */
export function natsServerOrUndefined(): string | undefined {
  try {
    return findNatsServer();
  } catch {
    return undefined;
  }
}

/** A free loopback TCP port (for cluster routes, which must be known before the servers start). */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, "close");
  return port;
}

export interface OperatorServerOptions {
  readonly binary: string;
  readonly dir: string;
  readonly keys: NatsOperatorKeys;
  readonly accountJwt: string;
  readonly name: string;
  readonly jetstream?: boolean;
  /** This server's route port and every route of the cluster (its own included is fine). */
  readonly cluster?: { readonly port: number; readonly routes: readonly number[] };
}

/** Starts one server (client port chosen by the server), stopped when the test ends. */
export async function startOperatorServer(t: TestContext, o: OperatorServerOptions): Promise<OperatorServer> {
  const lines = [`server_name: ${JSON.stringify(o.name)}`, `listen: "127.0.0.1:-1"`];
  if (o.jetstream === true) lines.push(`jetstream { store_dir: ${JSON.stringify(join(o.dir, `${o.name}-js`))} }`);
  if (o.cluster !== undefined) {
    const routes = o.cluster.routes.map((p) => JSON.stringify(`nats-route://127.0.0.1:${p}`)).join(", ");
    lines.push(`cluster { name: "nightshift-test", listen: "127.0.0.1:${o.cluster.port}", routes: [${routes}] }`);
  }
  lines.push(
    renderNatsResolverConfig({
      operatorJwt: await o.keys.operatorJwt(),
      systemAccount: o.keys.systemAccountPublicKey,
      resolverDir: join(o.dir, `${o.name}-accounts`),
      preload: { [o.keys.systemAccountPublicKey]: await o.keys.systemAccountJwt(), [o.keys.accountPublicKey]: o.accountJwt },
    }),
  );
  const configPath = join(o.dir, `${o.name}.conf`);
  await writeNatsConfigFile(configPath, lines.join("\n") + "\n");
  const child = spawn(o.binary, ["-c", configPath], { stdio: ["ignore", "ignore", "pipe"] });
  defer(t, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await once(child, "exit");
    }
  });
  let log = "";
  child.stderr?.setEncoding("utf8");
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server ${o.name} did not start: ${log}`)), 15_000);
    child.stderr?.on("data", (chunk: string) => {
      log = (log + chunk).slice(-20_000);
      const match = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server ${o.name} exited ${code}: ${log}`));
    });
  });
  return { child, port, url: `127.0.0.1:${port}` };
}

/** nats.js options for a user credential (JWT + seed). */
export function asUser(c: { readonly jwt: string; readonly seed: string }): { authenticator: ReturnType<typeof jwtAuthenticator> } {
  return { authenticator: jwtAuthenticator(c.jwt, new TextEncoder().encode(c.seed)) };
}
