import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { setTimeout as sleep } from "node:timers/promises";
import { EnrollmentClient, type EnrollRequest, type EnrollResponse } from "../../proto/gen/nightshift/v1/enrollment.ts";
import { BadInputError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import { GRPC_CHANNEL_OPTIONS } from "../../shared/grpc-options.ts";
import { studioChannelCredentials } from "../../shared/tls/grpc-credentials.ts";
import { NIGHTSHIFT_VERSION } from "../../shared/version.ts";
import { publicKeyFingerprint } from "../../shared/tls/agent-id.ts";
import { fetchPinnedCa } from "../trust/ca-pinning.ts";
import type { AgentKeys } from "../trust/agent-keys.ts";
import { saveEnrollment, type AgentCredentials } from "../trust/agent-credentials.ts";

export interface EnrollAgentOptions {
  readonly host: string;
  /** The enrollment listener's port (the `enroll` TXT field, or the gRPC port + 1). */
  readonly port: number;
  /** CA fingerprint (full, or at least 16 hex digits) the coordinator must prove. */
  readonly pin: string;
  readonly dataDir: string;
  readonly keys: AgentKeys;
  /** Empty or undefined: ask for approval and wait for it. */
  readonly joinToken?: string;
  readonly name: string;
  readonly gpus: ReadonlyArray<{ name: string; vramBytes: number }>;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** How often a pending agent asks again. Default 2 s. */
  readonly pollMs?: number;
  /** Called once when the coordinator answers "pending". */
  readonly onPending?: (agentId: string, message: string) => void;
}

/**
 * Enrolls this agent: pins the studio CA from the TLS handshake, sends the
 * join token (or asks for approval and waits) and the public key over a
 * channel that trusts only that CA, checks and stores the answer. A refused
 * token is a BadInputError naming --join-token (exit 2).
 */
export async function enrollAgent(o: EnrollAgentOptions): Promise<AgentCredentials> {
  const caPem = await fetchPinnedCa({ host: o.host, port: o.port, pin: o.pin });
  const channel = studioChannelCredentials({ caPem });
  const target = `${o.host.includes(":") ? `[${o.host}]` : o.host}:${o.port}`;
  const client = new EnrollmentClient(target, channel.credentials, { ...GRPC_CHANNEL_OPTIONS, ...channel.options });
  const request: EnrollRequest = {
    publicKeyPem: o.keys.publicKeyPem,
    joinToken: o.joinToken ?? "",
    name: o.name,
    version: NIGHTSHIFT_VERSION,
    gpus: o.gpus.map((g) => ({ name: g.name, vramBytes: g.vramBytes })),
  };
  let toldPending = false;
  try {
    for (;;) {
      o.signal?.throwIfAborted();
      const answer = await enrollOnce(client, request).catch((err: unknown) => {
        // Tokenless requests are capped and rate-limited by the coordinator: wait and ask again.
        if ((err as ServiceError).code !== status.RESOURCE_EXHAUSTED) throw err;
        o.log.warn({ coordinator: target, reason: (err as ServiceError).details }, "coordinator is not taking approval requests now; asking again");
        return undefined;
      });
      if (answer === undefined) {
        await sleep(Math.max(o.pollMs ?? 2000, 5000), undefined, o.signal ? { signal: o.signal } : {});
        continue;
      }
      if (answer.status === "enrolled") {
        const credentials = await saveEnrollment(o.dataDir, o.keys, { certPem: answer.certPem, caPem: answer.caPem }, o.pin);
        o.log.info({ agentId: credentials.agentId, coordinator: target, ca: credentials.caFingerprint }, "agent enrolled");
        return credentials;
      }
      if (!toldPending) {
        toldPending = true;
        o.log.info({ agentId: answer.agentId, keySha256: publicKeyFingerprint(o.keys.publicKeyPem), coordinator: target }, "waiting for approval");
        o.onPending?.(answer.agentId, answer.message);
      }
      await sleep(o.pollMs ?? 2000, undefined, o.signal ? { signal: o.signal } : {});
    }
  } finally {
    client.close();
  }
}

function enrollOnce(client: EnrollmentClient, request: EnrollRequest): Promise<EnrollResponse> {
  return new Promise((resolve, reject) => {
    client.enroll(request, new Metadata(), { deadline: Date.now() + 20_000 }, (err: ServiceError | null, res: EnrollResponse) => {
      if (err === null) return resolve(res);
      reject(toEnrollError(err));
    });
  });
}

function toEnrollError(err: ServiceError): Error {
  const refusal = refusalOf(err.metadata);
  if (err.code === status.PERMISSION_DENIED) {
    const field = refusal === "removed" ? "agent" : "joinToken";
    const what = refusal === "removed" ? "enrollment refused" : "--join-token refused";
    return new BadInputError(`${what}: ${err.details}`, { field, cause: err });
  }
  if (err.code === status.INVALID_ARGUMENT) return new BadInputError(`enrollment refused: ${err.details}`, { field: "enrollment", cause: err });
  return err;
}

function refusalOf(metadata: Metadata | undefined): string | undefined {
  const value = metadata?.get("refusal")[0];
  return typeof value === "string" ? value : undefined;
}
