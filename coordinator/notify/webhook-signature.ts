/**
 * How a webhook receiver knows a notification came from this coordinator:
 * `X-Nightshift-Signature: t=<unix ms>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
 * with the secret both sides share. The time stops a captured request being
 * replayed much later (the receiver decides how late is too late).
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "x-nightshift-signature";

export function signWebhook(secret: string, body: string, atMs: number): string {
  const mac = createHmac("sha256", secret).update(`${atMs}.${body}`).digest("hex");
  return `t=${atMs},v1=${mac}`;
}

/** True when `header` is a valid signature of `body` under `secret`, made no more than maxAgeMs before nowMs. */
export function verifyWebhook(secret: string, body: string, header: string, nowMs: number, maxAgeMs = 5 * 60_000): boolean {
  const parts = new Map(header.split(",").map((p) => p.trim().split("=", 2) as [string, string]));
  const t = Number(parts.get("t"));
  const given = parts.get("v1") ?? "";
  if (!Number.isFinite(t) || Math.abs(nowMs - t) > maxAgeMs || !/^[0-9a-f]{64}$/.test(given)) return false;
  const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(given, "hex"));
}
