import { join, resolve } from "node:path";
import type { Command } from "commander";
import { parseClusterNode, type ClusterNode } from "../../coordinator/nats/cluster-node-config.ts";
import { BadInputError } from "../../shared/errors.ts";
import { defaultDataDir } from "../paths.ts";

/**
 * `nightshift nats-cluster init`: writes the configs of a studio NATS
 * JetStream cluster (deploy/nats-cluster/README.md): one nats-server config
 * per node with routes, JetStream, TLS from the studio CA in the
 * coordinator's data dir and the studio's NATS operator (user JWTs signed by
 * the coordinator, revocations pushed by it; coordinator/nats/cluster-auth.ts).
 */
interface InitFlags {
  dataDir?: string;
  out: string;
  node: ClusterNode[];
  listenHost?: string;
  storeRoot?: string;
  name?: string;
}

export function registerNatsCluster(program: Command): void {
  const cmd = program.command("nats-cluster").description("a NATS JetStream cluster for the work queue (deploy/nats-cluster/)");
  cmd
    .command("init")
    .description("write node configs (routes, JetStream, TLS from the studio CA, the studio's NATS operator and account JWTs)")
    .option("--data-dir <dir>", "the coordinator's data dir (its studio CA signs the nodes' certificates; its NATS operator signs the users)")
    .requiredOption("--out <dir>", "folder for the configs; copy it to each node's machine")
    .option("--node <name=ip[:client[:route]]>", "a node (three for R3); ports default 4222 and 6222", (v: string, prev: ClusterNode[]) => [...prev, parseClusterNode(v)], [])
    .option("--listen-host <host>", "what the nodes listen on (default each node's own IP; 0.0.0.0 for every interface)")
    .option("--store-root <dir>", "where each node keeps its JetStream store (<dir>/<name>/jetstream; default --out)")
    .option("--name <name>", "cluster name", "nightshift")
    .action(async (flags: InitFlags) => {
      if (flags.node.length === 0) throw new BadInputError("--node: name at least one node (three for a cluster that survives one loss)", { field: "--node" });
      const dataDir = resolve(flags.dataDir ?? defaultDataDir());
      // The studio CA (x509, NATS keys) loads here, not when the CLI starts.
      const [{ StudioCa }, { writeClusterNodes }, { clusterAuthFor }] = await Promise.all([
        import("../../coordinator/trust/studio-ca.ts"),
        import("../../coordinator/nats/write-cluster-nodes.ts"),
        import("../../coordinator/nats/cluster-auth.ts"),
      ]);
      const ca = await StudioCa.open(join(dataDir, "ca"));
      const written = await writeClusterNodes({
        ca,
        auth: await clusterAuthFor(dataDir),
        dir: flags.out,
        nodes: flags.node,
        clusterName: flags.name ?? "nightshift",
        ...(flags.listenHost !== undefined ? { listenHost: flags.listenHost } : {}),
        ...(flags.storeRoot !== undefined ? { storeRoot: flags.storeRoot } : {}),
      });
      const lines = [
        `wrote ${written.configs.length} node configs in ${resolve(flags.out)} (studio CA ${ca.fingerprint})`,
        ...flags.node.map((n, i) => `  node ${n.name}: nats-server -c ${written.configs[i] as string}`),
        "coordinator config (YAML):",
        `  nats: ${written.urls.join(",")}`,
        `  natsReplicas: ${flags.node.length >= 3 ? 3 : 1}`,
        `  natsStudioAuth: true   # the nodes trust this coordinator's NATS operator (or: --nats-studio-auth)`,
      ];
      process.stdout.write(lines.join("\n") + "\n");
    });
}
