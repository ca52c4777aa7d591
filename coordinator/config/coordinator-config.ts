import { resolve } from "node:path";
import { z } from "zod";
import { BadInputError } from "../../shared/errors.ts";
import { compileTariff, type CompiledTariff, type TariffSpec } from "../../shared/accounting/tariff.ts";
import { DEFAULT_FARM_POLICY, type FarmPolicy } from "../dispatch/farm-policy.ts";
import { parseHostPort } from "../../shared/host-port.ts";
import { compileWebhooks, webhookConfigFields, type WebhookConfig } from "./webhook-config.ts";
import { compileHttpListen, type HttpListen } from "./http-listen.ts";
import { accountingConfigFields, compileAccountingConfig, type AccountingConfig } from "./accounting-config.ts";
import { assetGcConfigFields, compileAssetGcConfig, type AssetGcConfig } from "./asset-gc-config.ts";

const tariffSchema = z.union([
  z.strictObject({ kind: z.literal("flat"), currency: z.string(), pricePerKwh: z.number() }),
  z.strictObject({
    kind: z.literal("time-of-use"),
    currency: z.string(),
    timeZone: z.string(),
    periods: z.array(z.strictObject({ from: z.string(), to: z.string(), pricePerKwh: z.number() })),
  }),
]);

/** What a config file or CLI flags may say. Unknown keys are refused so typos are caught. */
export const rawCoordinatorConfigSchema = z.strictObject({
  dataDir: z.string().min(1),
  outputRoot: z.string().min(1).optional(),
  modelsDir: z.string().min(1).optional(),
  /** The studio's shared root (the NAS mount) as this machine sees it; Blender scenes are given relative to it. */
  sharedRoot: z.string().min(1).optional(),
  listen: z.string().default("127.0.0.1:0"),
  /** Enrollment listener (server-only TLS); default: the listen host, port + 1 (ephemeral when listen's port is 0). */
  enrollListen: z.string().optional(),
  /** Advertise on the LAN and browse for agents (mDNS). Off unless asked: `nightshift coordinator` turns it on. */
  mdns: z.boolean().default(false),
  /** The interface (its IP) mDNS uses; default every LAN interface. */
  mdnsInterface: z.string().optional(),
  /** An agent only seen by mDNS (never asked to enroll, not approved) is forgotten after this long without an advert. */
  discoveredTtlSeconds: z.number().int().min(10).max(30 * 86_400).default(3600),
  /** An existing NATS server or cluster: one URL, a comma list, or a list (`--nats URL,URL,URL`). */
  nats: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** JetStream replicas of the work stream and its consumers; default 3 with three or more NATS URLs, else 1 (embedded: 1). */
  natsReplicas: z.number().int().min(1).max(5).optional(),
  /**
   * With `nats`: the cluster's nodes trust this coordinator's NATS operator (written by `nightshift nats-cluster
   * init`, deploy/nats-cluster/). The coordinator connects with its user JWT over TLS from the studio CA, hands
   * agents their user JWTs and pushes the account JWT (revocations) to the nodes, as with the embedded server.
   */
  natsStudioAuth: z.boolean().default(false),
  /** Gone (the nkey users file of an older `nats-cluster init`); kept only to say what replaced it. */
  natsUsersFile: z.unknown().optional(),
  /** Gone with natsUsersFile. */
  natsReload: z.unknown().optional(),
  natsServer: z.string().optional(),
  natsPort: z.number().int().min(0).max(65535).default(0),
  subjectPrefix: z.string().regex(/^[a-z][a-z0-9_-]*$/).default("ns"),
  heartbeatMs: z.number().int().min(100).max(60_000).default(DEFAULT_FARM_POLICY.heartbeatMs),
  agentTimeoutMs: z.number().int().min(300).max(600_000).optional(),
  ackWaitSeconds: z.number().min(2).max(3600).default(DEFAULT_FARM_POLICY.ackWaitSeconds),
  /** JetStream deliveries of one work message before it is re-published with a fresh count (busy agents hand pool messages back). */
  maxDeliveries: z.number().int().min(2).max(10_000).default(DEFAULT_FARM_POLICY.maxDeliveries),
  maxAgentsPerChunk: z.number().int().min(1).max(100).default(DEFAULT_FARM_POLICY.maxAgentsPerChunk),
  maxFailuresPerChunk: z.number().int().min(1).max(1000).default(DEFAULT_FARM_POLICY.maxFailuresPerChunk),
  maxFrameBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(48 * 1024 * 1024),
  /** Answer an agent's claim for "the next chunk for me" with a chunk claimed for it, no work message published (pick-next.ts). */
  claimNext: z.boolean().default(true),
  /** A job paused because the output root filled up resumes once this much is free. */
  minFreeBytes: z.number().int().min(0).default(256 * 1024 * 1024),
  tariff: tariffSchema.default({ kind: "flat", currency: "EUR", pricePerKwh: 0.3 }),
  /** The dashboard (coordinator/dashboard/): 127.0.0.1 only by default; any other host is served over HTTPS. */
  httpListen: z.string().default("127.0.0.1:0"),
  ...webhookConfigFields,
  ...assetGcConfigFields,
  ...accountingConfigFields,
});
export type RawCoordinatorConfig = z.input<typeof rawCoordinatorConfigSchema>;

/** Where NATS is: the embedded server, or an existing server or cluster (optionally one that trusts the studio's NATS operator). */
export type NatsConnectionConfig =
  | { mode: "embedded"; binary: string | undefined; port: number; replicas: number }
  /** studioAuth: the nodes trust the studio's NATS operator (natsStudioAuth); otherwise no credentials, no TLS. */
  | { mode: "external"; urls: string[]; replicas: number; studioAuth: boolean };

/** Compiled once at start-up; trusted everywhere after. */
export interface CoordinatorConfig {
  dataDir: string;
  storePath: string;
  outputRoot: string;
  modelsDir: string;
  /** null: no shared root, so jobs cannot name scenes. */
  sharedRoot: string | null;
  listenHost: string;
  listenPort: number;
  enrollHost: string;
  enrollPort: number;
  /** No enrollListen given: the enrollment port is the gRPC port + 1 when that is free. */
  enrollFollowsGrpc: boolean;
  mdns: { enabled: boolean; interfaceIp: string | undefined; discoveredTtlMs: number };
  nats: NatsConnectionConfig;
  subjectPrefix: string;
  policy: FarmPolicy;
  /** Claims for the next chunk answered (coordinator/scheduling/pick-next.ts); off: agents only pull. */
  claimNext: boolean;
  maxFrameBytes: number;
  minFreeBytes: number;
  tariff: CompiledTariff;
  tariffLabel: string;
  /** Power budget, metrics endpoint, telemetry retention (accounting-config.ts). */
  accounting: AccountingConfig;
  /** The dashboard's listener (http-listen.ts). */
  http: HttpListen;
  /** Where notifications go (webhook-config.ts). */
  webhooks: WebhookConfig;
  /** Retention and schedule of the asset store's cleanup (asset-gc-config.ts). */
  assetGc: AssetGcConfig;
}

function describeTariff(t: TariffSpec): string {
  return t.kind === "flat" ? `flat ${t.pricePerKwh} ${t.currency}/kWh` : `time-of-use (${t.periods.length} periods, ${t.timeZone})`;
}

export function compileCoordinatorConfig(raw: unknown, defaultModelsDir: string): CoordinatorConfig {
  const parsed = rawCoordinatorConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue ? issue.path.join(".") : "config";
    throw new BadInputError(`coordinator config: ${field || "config"}: ${issue?.message ?? "invalid"}`, { field });
  }
  const c = parsed.data;
  const dataDir = resolve(c.dataDir);
  const { host, port } = parseHostPort(c.listen, "listen");
  const enroll = c.enrollListen ? parseHostPort(c.enrollListen, "enrollListen") : { host, port: port === 0 ? 0 : port + 1 };
  if (enroll.port > 65535) throw new BadInputError(`enrollListen: port ${port} + 1 is not a port; set enrollListen`, { field: "enrollListen" });
  const heartbeatMs = c.heartbeatMs;
  return {
    dataDir,
    storePath: resolve(dataDir, "nightshift.db"),
    outputRoot: resolve(c.outputRoot ?? resolve(dataDir, "output")),
    modelsDir: resolve(c.modelsDir ?? defaultModelsDir),
    sharedRoot: c.sharedRoot === undefined ? null : resolve(c.sharedRoot),
    listenHost: host,
    listenPort: port,
    enrollHost: enroll.host,
    enrollPort: enroll.port,
    enrollFollowsGrpc: c.enrollListen === undefined,
    mdns: { enabled: c.mdns, interfaceIp: c.mdnsInterface, discoveredTtlMs: c.discoveredTtlSeconds * 1000 },
    nats: compileNats(c),
    subjectPrefix: c.subjectPrefix,
    policy: {
      ...DEFAULT_FARM_POLICY,
      heartbeatMs,
      agentTimeoutMs: c.agentTimeoutMs ?? heartbeatMs * 4,
      ackWaitSeconds: c.ackWaitSeconds,
      maxDeliveries: c.maxDeliveries,
      maxAgentsPerChunk: c.maxAgentsPerChunk,
      maxFailuresPerChunk: c.maxFailuresPerChunk,
    },
    claimNext: c.claimNext,
    maxFrameBytes: c.maxFrameBytes,
    minFreeBytes: c.minFreeBytes,
    tariff: compileTariff(c.tariff as TariffSpec),
    tariffLabel: describeTariff(c.tariff as TariffSpec),
    accounting: compileAccountingConfig(c),
    http: compileHttpListen(c.httpListen),
    webhooks: compileWebhooks(c),
    assetGc: compileAssetGcConfig(c),
  };
}

function compileNats(c: z.output<typeof rawCoordinatorConfigSchema>): NatsConnectionConfig {
  for (const field of ["natsUsersFile", "natsReload"] as const) {
    if (c[field] !== undefined) {
      throw new BadInputError(
        `${field}: the nkey users file is gone; run \`nightshift nats-cluster init\` again (the nodes now trust the studio's NATS operator and take user JWTs), restart the nodes, and set natsStudioAuth: true (--nats-studio-auth) instead (deploy/nats-cluster/README.md)`,
        { field },
      );
    }
  }
  if (c.nats === undefined) {
    if (c.natsStudioAuth) throw new BadInputError("natsStudioAuth: only with nats (the embedded server always trusts the studio's operator)", { field: "natsStudioAuth" });
    if ((c.natsReplicas ?? 1) > 1) throw new BadInputError("natsReplicas: the embedded server is one node (R1); replicas need a cluster (nats: URL,URL,URL)", { field: "natsReplicas" });
    return { mode: "embedded", binary: c.natsServer, port: c.natsPort, replicas: c.natsReplicas ?? 1 };
  }
  const urls = (Array.isArray(c.nats) ? c.nats : c.nats.split(",")).map((u) => u.trim()).filter((u) => u !== "");
  for (const u of urls) {
    let parsed: URL;
    try {
      parsed = new URL(u.includes("://") ? u : `nats://${u}`);
    } catch {
      throw new BadInputError(`nats: "${u}" is not a URL (nats://host:port)`, { field: "nats" });
    }
    if (!["nats:", "tls:"].includes(parsed.protocol) || parsed.hostname === "") throw new BadInputError(`nats: "${u}" is not a nats:// or tls:// URL with a host`, { field: "nats" });
  }
  if (urls.length === 0) throw new BadInputError("nats: no URL given", { field: "nats" });
  return {
    mode: "external",
    urls,
    replicas: c.natsReplicas ?? (urls.length >= 3 ? 3 : 1),
    studioAuth: c.natsStudioAuth,
  };
}
