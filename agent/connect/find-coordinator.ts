import { COORDINATOR_SERVICE_TYPE, type DiscoveredService, type Discovery } from "../../shared/discovery/discovery.ts";
import { parseCoordinatorTxt } from "../../shared/discovery/txt-records.ts";
import type { Logger } from "../../shared/log.ts";
import { fingerprintMatches } from "../trust/ca-pinning.ts";

/** One coordinator as its mDNS advert describes it. Only a proposal: the TLS handshake decides. */
export interface CoordinatorAdvert {
  readonly name: string;
  /** The address to dial: the source of the mDNS answer (same link), else an advertised address. */
  readonly host: string;
  readonly grpcPort: number;
  /** The enrollment listener; the gRPC port + 1 when the advert does not say. */
  readonly enrollPort: number;
  readonly caFingerprint: string;
}

export interface FindCoordinatorsOptions {
  readonly discovery: Discovery;
  /** Only adverts carrying this CA fingerprint count; undefined: every well-formed advert. */
  readonly pin?: string;
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** After the first match, keep listening this long for more (another coordinator, a rogue). */
  readonly settleMs?: number;
  readonly log: Logger;
}

export interface FoundCoordinators {
  /** Adverts that match the pin (all well-formed ones without a pin), in the order heard. */
  readonly matching: CoordinatorAdvert[];
  /** Well-formed adverts with another CA. */
  readonly others: CoordinatorAdvert[];
}

/** Browses `_nightshift._tcp` until a matching coordinator is heard (plus settleMs) or the timeout. */
export async function findCoordinators(o: FindCoordinatorsOptions): Promise<FoundCoordinators> {
  const matching: CoordinatorAdvert[] = [];
  const others: CoordinatorAdvert[] = [];
  const seen = new Set<string>();
  let onMatch: (() => void) | undefined;
  const handle = o.discovery.browse(
    COORDINATOR_SERVICE_TYPE,
    (service) => {
      const advert = toAdvert(service, o.log);
      if (advert === undefined) return;
      const key = `${advert.host}:${advert.grpcPort}:${advert.caFingerprint}`;
      if (seen.has(key)) return;
      seen.add(key);
      if (o.pin === undefined || fingerprintMatches(advert.caFingerprint, o.pin)) {
        matching.push(advert);
        onMatch?.();
      } else {
        others.push(advert);
        o.log.info({ name: advert.name, host: advert.host, ca: advert.caFingerprint }, "coordinator advert ignored: not the pinned studio CA");
      }
    },
    () => undefined,
  );
  try {
    await new Promise<void>((resolve) => {
      const deadline = setTimeout(resolve, o.timeoutMs);
      onMatch = () => {
        onMatch = undefined;
        clearTimeout(deadline);
        setTimeout(resolve, o.settleMs ?? 750);
      };
      if (matching.length > 0) onMatch();
    });
  } finally {
    handle.stop();
  }
  return { matching, others };
}

function toAdvert(service: DiscoveredService, log: Logger): CoordinatorAdvert | undefined {
  const parsed = parseCoordinatorTxt(service.txt);
  if (!parsed.ok) {
    log.debug({ name: service.name, reason: parsed.reason }, "coordinator advert ignored");
    return undefined;
  }
  const host = service.referer ?? service.addresses.find((a) => !a.includes(":")) ?? service.addresses[0];
  if (host === undefined) return undefined;
  const t = parsed.value;
  return { name: service.name, host, grpcPort: t.grpcPort, enrollPort: t.enrollPort ?? t.grpcPort + 1, caFingerprint: t.caFingerprint };
}
