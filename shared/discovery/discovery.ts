/**
 * Service discovery on the studio LAN, behind a small interface so that the
 * coordinator and agent never touch an mDNS library. Discovery only proposes
 * peers; enrollment and mTLS decide whom to trust (see coordinator/trust/).
 */

/** DNS-SD service types, without the leading "_" and the "._tcp" suffix. */
export const COORDINATOR_SERVICE_TYPE = "nightshift";
/** At most 15 characters (RFC 6763 section 7.2). */
export const AGENT_SERVICE_TYPE = "nshift-agent";

export type TxtRecord = Readonly<Record<string, string>>;

export interface ServiceAdvert {
  /** Instance name, unique on the LAN (e.g. "nightshift-agent-<id>"). */
  readonly name: string;
  readonly type: string;
  readonly port: number;
  readonly txt: TxtRecord;
  /** Host name in the SRV record; defaults to the machine's host name. */
  readonly host?: string;
}

export interface DiscoveredService {
  readonly name: string;
  readonly type: string;
  readonly port: number;
  readonly host: string;
  /** A/AAAA records the advertiser published (all of its interfaces). */
  readonly addresses: readonly string[];
  /** Source address of the mDNS answer: on the same link as the browser, the best address to dial. */
  readonly referer: string | undefined;
  /** Raw TXT; parse with shared/discovery/txt-records.ts, never trust unparsed. */
  readonly txt: Readonly<Record<string, unknown>>;
}

export interface Advertisement {
  /** Sends goodbye packets; safe to call twice. */
  stop(): Promise<void>;
}

export interface BrowseHandle {
  stop(): void;
}

export interface Discovery {
  advertise(service: ServiceAdvert): Advertisement;
  /**
   * Calls onUp for every instance of `type` found (now and later) and onDown
   * when one says goodbye or its record expires. Liveness belongs to NATS
   * heartbeats, not to mDNS: a crashed host sends no goodbye.
   */
  browse(type: string, onUp: (service: DiscoveredService) => void, onDown: (service: DiscoveredService) => void): BrowseHandle;
  /** Withdraws every advertisement, stops every browse, closes the socket. Safe to call twice. */
  stop(): Promise<void>;
}
