import { rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { BUNDLED_MODELS_DIR, defaultDataDir } from "../paths.ts";
import { positiveInt } from "./parse-args.ts";
import { shutdownSignal, untilAborted } from "../signals.ts";
import type { LockHolder } from "../../shared/data-dir-lock/lock-holder.ts";

interface CoordinatorFlags {
  config?: string;
  dataDir?: string;
  outputRoot?: string;
  nats?: string;
  natsReplicas?: number;
  natsStudioAuth?: boolean;
  listen?: string;
  modelsDir?: string;
  sharedRoot?: string;
  mdnsInterface?: string;
  mdns?: boolean;
  enrollListen?: string;
  metricsListen?: string;
  httpListen?: string;
}

export function registerCoordinator(program: Command): void {
  program
    .command("coordinator")
    .description("run the studio coordinator (embedded nats-server unless --nats is given)")
    .option("--config <file>", "YAML or JSON config file")
    .option("--data-dir <dir>", "store, NATS data, CA (default ~/.nightshift/coordinator)")
    .option("--output-root <dir>", "where frames are written (the NAS mount)")
    .option("--nats <urls>", "use an existing NATS server or cluster (URL,URL,URL) instead of the embedded one")
    .option("--nats-replicas <n>", "JetStream replicas of the work stream (default 3 with three or more --nats URLs, else 1) (config: natsReplicas)", positiveInt("--nats-replicas"))
    .option("--nats-studio-auth", "with --nats: the nodes trust this coordinator's NATS operator (`nightshift nats-cluster init`): user JWTs, TLS, revocations (config: natsStudioAuth; see deploy/nats-cluster/)")
    .option("--listen <host:port>", "gRPC listen address", undefined)
    .option("--models-dir <dir>", "models directory")
    .option("--shared-root <dir>", "the studio's shared root (NAS mount) on this machine; Blender scenes are given relative to it")
    .option("--mdns-interface <ip>", "IP of the interface for mDNS (default: every LAN interface)")
    .option("--no-mdns", "do not advertise on the LAN nor browse for agents")
    .option("--enroll-listen <host:port>", "enrollment listener (default: listen host, port + 1)")
    .option("--metrics-listen <host:port>", "serve Prometheus metrics on GET /metrics (config: metricsListen)")
    .option("--http-listen <host:port>", "the dashboard's address (default 127.0.0.1, any free port; beyond loopback it is HTTPS) (config: httpListen)")
    .action(async (flags: CoordinatorFlags) => {
      // The store, NATS, gRPC and onnxruntime load here, not when the CLI starts; the YAML reader only with --config
      // (every module loaded is time a restarted coordinator is not listening: issue 15, twelfth round).
      const fileRead = flags.config ? import("../config-file.ts").then(({ readConfigFile }) => readConfigFile(flags.config as string)) : Promise.resolve({} as Record<string, unknown>);
      // The data dir's lock first: a second coordinator on a running one's dir exits 2 here, before the orphan reap
      // below could take the running one's nats-server for an orphan, and before the store and the CA are opened.
      // The nats-server a killed coordinator left behind is ended while the modules below load (thirteenth round).
      const locking = fileRead.then(async (file) => {
        const dataDir = dataDirOf(flags, file);
        if (dataDir === undefined) return null; // not a path: the config's check below names the field
        const { lockDataDir } = await import("../../shared/data-dir-lock/data-dir-lock.ts");
        const lock = lockDataDir(dataDir, "coordinator");
        if (flags.nats || file.nats !== undefined) return lock;
        const { startReapingOrphanNats } = await import("../../coordinator/nats/orphan-nats.ts");
        startReapingOrphanNats(join(resolve(dataDir), "nats"));
        return lock;
      });
      const [file, { compileCoordinatorConfig }, { Coordinator }, { createLogger }, { ENDPOINT_FILE }, lock] = await Promise.all([
        fileRead,
        import("../../coordinator/config/coordinator-config.ts"),
        import("../../coordinator/coordinator.ts"),
        import("../../shared/log.ts"),
        import("../control-client.ts"),
        locking,
      ]);
      try {
        await runCoordinator(flags, file, { compileCoordinatorConfig, Coordinator, createLogger, ENDPOINT_FILE }, lock?.staleHolder ?? null);
      } finally {
        lock?.release();
      }
    });
}

/** The data dir from --data-dir, the config file or the default; undefined when the config's value is not a path. */
function dataDirOf(flags: CoordinatorFlags, file: Record<string, unknown>): string | undefined {
  if (flags.dataDir !== undefined) return flags.dataDir;
  if (file.dataDir === undefined) return defaultDataDir();
  return typeof file.dataDir === "string" && file.dataDir !== "" ? file.dataDir : undefined;
}

interface CoordinatorModules {
  compileCoordinatorConfig: typeof import("../../coordinator/config/coordinator-config.ts").compileCoordinatorConfig;
  Coordinator: typeof import("../../coordinator/coordinator.ts").Coordinator;
  createLogger: typeof import("../../shared/log.ts").createLogger;
  ENDPOINT_FILE: string;
}

/** Runs the coordinator under the data dir's lock until SIGINT/SIGTERM. */
async function runCoordinator(flags: CoordinatorFlags, file: Record<string, unknown>, m: CoordinatorModules, staleHolder: LockHolder | null): Promise<void> {
  const { compileCoordinatorConfig, Coordinator, createLogger, ENDPOINT_FILE } = m;
  const raw = {
    ...file,
    dataDir: flags.dataDir ?? (file.dataDir as string | undefined) ?? defaultDataDir(),
    ...(flags.outputRoot ? { outputRoot: flags.outputRoot } : {}),
    ...(flags.nats ? { nats: flags.nats } : {}),
    ...(flags.natsReplicas !== undefined ? { natsReplicas: flags.natsReplicas } : {}),
    ...(flags.natsStudioAuth ? { natsStudioAuth: true } : {}),
    ...(flags.listen ? { listen: flags.listen } : {}),
    ...(flags.modelsDir ? { modelsDir: flags.modelsDir } : {}),
    ...(flags.sharedRoot ? { sharedRoot: flags.sharedRoot } : {}),
    ...(flags.enrollListen ? { enrollListen: flags.enrollListen } : {}),
    ...(flags.mdnsInterface ? { mdnsInterface: flags.mdnsInterface } : {}),
    mdns: flags.mdns !== false && file.mdns !== false,
    ...(flags.metricsListen ? { metricsListen: flags.metricsListen } : {}),
    ...(flags.httpListen ? { httpListen: flags.httpListen } : {}),
  };
  const config = compileCoordinatorConfig(raw, BUNDLED_MODELS_DIR);
  const log = createLogger("nightshift-coordinator");
  if (staleHolder) log.warn({ pid: staleHolder.pid, since: staleHolder.since, command: staleHolder.command }, "took over the data dir's lock from a process that ended without letting go");
  const coordinator = await Coordinator.start(config, log);
  // Before "listening" is printed: a SIGTERM sent on that line (a test, a supervisor) is a clean stop that lets go of
  // the lock, not Node's default exit without one.
  const stopAsked = shutdownSignal();
  const endpoint = join(config.dataDir, ENDPOINT_FILE);
  writeFileSync(endpoint, JSON.stringify({ grpc: coordinator.address, enroll: coordinator.enrollAddress, nats: coordinator.natsUrl, pid: process.pid }) + "\n");
  process.stdout.write(`coordinator listening on ${coordinator.address} (data ${config.dataDir})\n`);
  process.stdout.write(`enrollment on ${coordinator.enrollAddress}, studio CA ${coordinator.trust.caFingerprint}\n`);
  process.stdout.write(`dashboard on ${coordinator.dashboard.url} (a login link: nightshift dashboard --data-dir ${config.dataDir})\n`);
  if (coordinator.accounting.metricsUrl) process.stdout.write(`metrics on ${coordinator.accounting.metricsUrl}\n`);
  await untilAborted(stopAsked);
  await coordinator.stop();
  rmSync(endpoint, { force: true });
}
