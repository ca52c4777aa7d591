import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { ensureSecretDirectory, writeFileAtomic } from "../../shared/tls/secret-file.ts";
import type { StudioCa } from "../trust/studio-ca.ts";
import { checkClusterNodes, clusterUrls, renderClusterNodeConfig, type ClusterNode } from "./cluster-node-config.ts";

export interface WriteClusterNodesOptions {
  /** The studio CA (the coordinator's `<data-dir>/ca`): it signs every node's certificate. */
  readonly ca: StudioCa;
  /** Folder for the configs and certificates (copied as a whole to each node's machine). */
  readonly dir: string;
  readonly nodes: readonly ClusterNode[];
  /** The operator/resolver block for a node whose resolver keeps account JWTs in `resolverDir` (cluster-auth.ts). */
  readonly auth: (resolverDir: string) => string;
  readonly clusterName?: string;
  /** Where each node keeps its JetStream store and account JWTs (`<storeRoot>/<name>/jetstream`, `.../accounts`); default `dir`. */
  readonly storeRoot?: string;
  /** Host the nodes listen on; default each node's own address. */
  readonly listenHost?: string;
}

export interface ClusterNodesWritten {
  /** `<dir>/<name>.conf` per node, in the order given. */
  readonly configs: string[];
  /** `<dir>/<name>.pid` per node. */
  readonly pidFiles: string[];
  readonly storeDirs: string[];
  /** `<storeRoot>/<name>/accounts` per node: its `full` resolver's folder. */
  readonly resolverDirs: string[];
  /** The coordinator's `--nats` list. */
  readonly urls: string[];
}

/**
 * Writes a studio NATS cluster's node configs (cluster-node-config.ts): one
 * certificate per node from the studio CA (its IP and every client name the
 * agents check), one route password for all, and the studio's operator
 * block with a resolver folder per node, so that the cluster admits the
 * coordinator's user JWTs and nothing else. Files are 0600 in a 0700 folder.
 */
export async function writeClusterNodes(o: WriteClusterNodesOptions): Promise<ClusterNodesWritten> {
  checkClusterNodes(o.nodes);
  const dir = resolve(o.dir);
  const storeRoot = resolve(o.storeRoot ?? dir);
  await ensureSecretDirectory(join(dir, "tls"));
  const caFile = join(dir, "tls", "ca.crt");
  await writeFileAtomic(caFile, o.ca.certPem, 0o600);
  const routePassword = randomBytes(24).toString("base64url");
  const configs: string[] = [];
  const pidFiles: string[] = [];
  const storeDirs: string[] = [];
  const resolverDirs: string[] = [];
  for (const node of o.nodes) {
    const issued = await o.ca.issueServerCertificate({ ips: [node.host], alsoClient: true });
    const certFile = join(dir, "tls", `${node.name}.crt`);
    const keyFile = join(dir, "tls", `${node.name}.key`);
    await writeFileAtomic(certFile, issued.certPem, 0o600);
    await writeFileAtomic(keyFile, issued.keyPem, 0o600);
    const storeDir = join(storeRoot, node.name, "jetstream");
    await mkdir(storeDir, { recursive: true, mode: 0o700 });
    const resolverDir = join(storeRoot, node.name, "accounts");
    await mkdir(resolverDir, { recursive: true, mode: 0o700 });
    const pidFile = join(dir, `${node.name}.pid`);
    const config = join(dir, `${node.name}.conf`);
    const text = renderClusterNodeConfig({
      node,
      peers: o.nodes,
      ...(o.listenHost !== undefined ? { listenHost: o.listenHost } : {}),
      clusterName: o.clusterName ?? "nightshift",
      storeDir,
      pidFile,
      tls: { certFile, keyFile, caFile },
      routePassword,
      auth: o.auth(resolverDir),
    });
    await writeFileAtomic(config, text, 0o600);
    configs.push(config);
    pidFiles.push(pidFile);
    storeDirs.push(storeDir);
    resolverDirs.push(resolverDir);
  }
  return { configs, pidFiles, storeDirs, resolverDirs, urls: clusterUrls(o.nodes) };
}
