import { assertAgentId, isValidAgentId } from "../tls/identity-names.ts";
import type { TxtRecord } from "./discovery.ts";

/**
 * TXT records of nightshift services, encoded and parsed by pure functions.
 * Anyone on the LAN can advertise anything, so parsing never throws: it
 * returns a reason, and the caller logs and ignores the record.
 *
 * coordinator: role=coordinator grpc=<port> nats=<port|url> ca=<sha256 hex> v=1 [enroll=<port>]
 * agent:       role=agent id=<agent id> name=<name> v=1 port=<port> ngpu=<n> gpus=<name>:<MiB>;...
 */

export const TXT_VERSION = "1";
/** A DNS TXT string ("key=value") holds at most 255 bytes. */
const MAX_TXT_STRING_BYTES = 255;

export type TxtParse<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export type NatsEndpoint = { readonly port: number } | { readonly url: string };

export interface CoordinatorTxt {
  readonly version: string;
  readonly grpcPort: number;
  readonly nats: NatsEndpoint;
  /** sha256 of the studio CA certificate, lowercase hex. A hint to pin, never proof. */
  readonly caFingerprint: string;
  /** Port of the enrollment listener (server-only TLS), when separate from grpc. */
  readonly enrollPort?: number;
}

export interface GpuSummary {
  readonly name: string;
  readonly vramMiB: number;
}

export interface AgentTxt {
  readonly version: string;
  readonly id: string;
  readonly name: string;
  readonly port: number;
  /** As many GPUs as fit in one TXT string; `gpuCount` is the true number. */
  readonly gpus: readonly GpuSummary[];
  readonly gpuCount: number;
}

export function encodeCoordinatorTxt(txt: Omit<CoordinatorTxt, "version">): TxtRecord {
  const record: Record<string, string> = {
    role: "coordinator",
    v: TXT_VERSION,
    grpc: String(txt.grpcPort),
    nats: "port" in txt.nats ? String(txt.nats.port) : txt.nats.url,
    ca: txt.caFingerprint.toLowerCase(),
  };
  if (txt.enrollPort !== undefined) record["enroll"] = String(txt.enrollPort);
  return checkSizes(record);
}

export function parseCoordinatorTxt(txt: Readonly<Record<string, unknown>>): TxtParse<CoordinatorTxt> {
  if (txt["role"] !== "coordinator") return fail(`role is ${JSON.stringify(txt["role"])}, not "coordinator"`);
  const version = str(txt["v"]);
  if (version === undefined) return fail("v (version) is missing");
  const grpcPort = port(txt["grpc"]);
  if (grpcPort === undefined) return fail("grpc is not a port number");
  const natsText = str(txt["nats"]);
  let nats: NatsEndpoint;
  if (natsText !== undefined && /^\d+$/.test(natsText)) {
    const natsPort = port(natsText);
    if (natsPort === undefined) return fail("nats is not a port number");
    nats = { port: natsPort };
  } else if (natsText !== undefined && /^(nats|tls):\/\/[^\s,]+$/.test(natsText)) {
    nats = { url: natsText };
  } else {
    return fail("nats is neither a port nor a nats:// or tls:// URL");
  }
  const ca = str(txt["ca"])?.toLowerCase();
  if (ca === undefined || !/^[0-9a-f]{64}$/.test(ca)) return fail("ca is not a sha256 hex fingerprint");
  const value: CoordinatorTxt = { version, grpcPort, nats, caFingerprint: ca };
  if (txt["enroll"] === undefined) return { ok: true, value };
  const enrollPort = port(txt["enroll"]);
  if (enrollPort === undefined) return fail("enroll is not a port number");
  return { ok: true, value: { ...value, enrollPort } };
}

export function encodeAgentTxt(txt: Omit<AgentTxt, "version" | "gpuCount">): TxtRecord {
  assertAgentId(txt.id, "id");
  const record: Record<string, string> = {
    role: "agent",
    v: TXT_VERSION,
    id: txt.id,
    name: truncateUtf8(txt.name.replace(/[\r\n]/g, " "), MAX_TXT_STRING_BYTES - "name=".length),
    port: String(txt.port),
    ngpu: String(txt.gpus.length),
  };
  const gpus = encodeGpuList(txt.gpus, MAX_TXT_STRING_BYTES - "gpus=".length);
  if (gpus !== "") record["gpus"] = gpus;
  return checkSizes(record);
}

export function parseAgentTxt(txt: Readonly<Record<string, unknown>>): TxtParse<AgentTxt> {
  if (txt["role"] !== "agent") return fail(`role is ${JSON.stringify(txt["role"])}, not "agent"`);
  const version = str(txt["v"]);
  if (version === undefined) return fail("v (version) is missing");
  const id = str(txt["id"]);
  if (id === undefined || !isValidAgentId(id)) return fail("id is not an agent id");
  const name = str(txt["name"]) ?? id;
  const agentPort = port(txt["port"]);
  if (agentPort === undefined) return fail("port is not a port number");
  const gpus = parseGpuList(str(txt["gpus"]) ?? "");
  if (gpus === undefined) return fail("gpus is not a list of name:MiB");
  const ngpu = str(txt["ngpu"]);
  const gpuCount = ngpu !== undefined && /^\d{1,4}$/.test(ngpu) ? Math.max(Number(ngpu), gpus.length) : gpus.length;
  return { ok: true, value: { version, id, name, port: agentPort, gpus, gpuCount } };
}

/** "RTX 4090:24576;RTX 3090:24576", names escaped (%, :, ;), cut at a GPU boundary to fit `maxBytes`. */
export function encodeGpuList(gpus: readonly GpuSummary[], maxBytes: number): string {
  let out = "";
  for (const gpu of gpus) {
    const item = `${escapeName(gpu.name)}:${Math.max(0, Math.round(gpu.vramMiB))}`;
    const next = out === "" ? item : `${out};${item}`;
    if (Buffer.byteLength(next) > maxBytes) break;
    out = next;
  }
  return out;
}

export function parseGpuList(text: string): GpuSummary[] | undefined {
  if (text === "") return [];
  const gpus: GpuSummary[] = [];
  for (const item of text.split(";")) {
    const colon = item.lastIndexOf(":");
    const mib = item.slice(colon + 1);
    if (colon <= 0 || !/^\d{1,9}$/.test(mib)) return undefined;
    const name = unescapeName(item.slice(0, colon));
    if (name === undefined) return undefined;
    gpus.push({ name, vramMiB: Number(mib) });
  }
  return gpus;
}

function escapeName(name: string): string {
  return name.replace(/[%:;\r\n]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

function unescapeName(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function port(value: unknown): number | undefined {
  const text = typeof value === "number" ? String(value) : str(value);
  if (text === undefined || !/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : undefined;
}

function fail<T>(reason: string): TxtParse<T> {
  return { ok: false, reason };
}

function truncateUtf8(text: string, maxBytes: number): string {
  let out = "";
  for (const char of text) {
    if (Buffer.byteLength(out + char) > maxBytes) break;
    out += char;
  }
  return out;
}

function checkSizes(record: Record<string, string>): TxtRecord {
  for (const [key, value] of Object.entries(record)) {
    if (value === "") throw new Error(`TXT ${key} is empty`);
    if (Buffer.byteLength(`${key}=${value}`) > MAX_TXT_STRING_BYTES) {
      throw new Error(`TXT ${key} is longer than ${MAX_TXT_STRING_BYTES} bytes`);
    }
  }
  return record;
}
