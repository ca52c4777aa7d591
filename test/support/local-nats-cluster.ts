/**
 * Three (or more) real nats-server processes on loopback forming a
 * JetStream cluster, configured by the coordinator's own code
 * (coordinator/nats/write-cluster-nodes.ts: TLS from the studio CA, routes,
 * the studio's NATS operator and a resolver folder per node). Used by the cluster test and the
 * cluster soak. Ports are ephemeral, each node's store is fresh, and
 * processes are ended only by their own pids.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { StudioCa } from "../../coordinator/trust/studio-ca.ts";
import { writeClusterNodes, type ClusterNodesWritten } from "../../coordinator/nats/write-cluster-nodes.ts";
import { clusterAuthFor } from "../../coordinator/nats/cluster-auth.ts";
import type { ClusterNode } from "../../coordinator/nats/cluster-node-config.ts";
import { findNatsServer } from "../../shared/nats/find-nats-server.ts";
import { WORK_STREAM } from "../../shared/protocol/subjects.ts";
import type { RawCoordinatorConfig } from "../../coordinator/config/coordinator-config.ts";
import { freePort } from "./free-port.ts";

interface RunningNode {
  child: ChildProcess;
  exited: Promise<void>;
  log: string;
}

export class LocalNatsCluster {
  private readonly running: Array<RunningNode | undefined>;
  private readonly binary = findNatsServer();

  private constructor(
    readonly nodes: readonly ClusterNode[],
    readonly files: ClusterNodesWritten,
  ) {
    this.running = nodes.map(() => undefined);
  }

  /** Writes the node configs with the CA in `<coordinatorDataDir>/ca` and its NATS operator (both created if new) under `dir`. */
  static async create(dir: string, coordinatorDataDir: string, count = 3): Promise<LocalNatsCluster> {
    const ca = await StudioCa.open(join(coordinatorDataDir, "ca"));
    const nodes: ClusterNode[] = [];
    for (let i = 1; i <= count; i++) nodes.push({ name: `n${i}`, host: "127.0.0.1", clientPort: await freePort(), routePort: await freePort() });
    const files = await writeClusterNodes({ ca, dir, nodes, auth: await clusterAuthFor(coordinatorDataDir) });
    return new LocalNatsCluster(nodes, files);
  }

  /** The coordinator config that points at this cluster, whose nodes trust the coordinator's operator. */
  coordinatorConfig(): Partial<RawCoordinatorConfig> {
    return { nats: this.files.urls.join(","), natsStudioAuth: true };
  }

  async startAll(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.start(i)));
  }

  /** Starts node i and resolves once it accepts clients. */
  async start(i: number): Promise<void> {
    if (this.alive(i)) return;
    const child = spawn(this.binary, ["-c", this.files.configs[i] as string], { stdio: ["ignore", "ignore", "pipe"] });
    const node: RunningNode = { child, exited: new Promise((r) => child.once("exit", () => r())), log: "" };
    this.running[i] = node;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats node ${i + 1} not ready in 15 s: ${node.log.slice(-500)}`)), 15_000);
      child.stderr?.on("data", (d: Buffer) => {
        node.log = (node.log + d.toString()).slice(-20_000);
        if (/Server is ready/.test(node.log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`nats node ${i + 1} exited at start (${code}): ${node.log.slice(-500)}`));
      });
    });
  }

  alive(i: number): boolean {
    const c = this.running[i]?.child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  pid(i: number): number | undefined {
    return this.alive(i) ? this.running[i]?.child.pid : undefined;
  }

  log(i: number): string {
    return this.running[i]?.log ?? "";
  }

  /** SIGKILLs node i (by its pid) and waits until it is gone. */
  async kill(i: number): Promise<void> {
    const node = this.running[i];
    if (!node || !this.alive(i)) return;
    node.child.kill("SIGKILL");
    await node.exited;
  }

  /** Index of the node leading the work stream (stream info's cluster.leader), asked over `nc`. */
  async streamLeader(nc: NatsConnection): Promise<number> {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    const info = await jsm.streams.info(WORK_STREAM);
    const name = info.cluster?.leader;
    const i = this.nodes.findIndex((n) => n.name === name);
    if (i < 0) throw new Error(`stream leader "${name ?? ""}" is not one of ${this.nodes.map((n) => n.name).join(", ")}`);
    return i;
  }

  /** Ends every node (SIGTERM, SIGKILL after 5 s), each by its own pid. */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.running.map(async (node, i) => {
        if (!node || !this.alive(i)) return;
        node.child.kill("SIGTERM");
        const timer = setTimeout(() => node.child.kill("SIGKILL"), 5000);
        await node.exited;
        clearTimeout(timer);
      }),
    );
  }
}
