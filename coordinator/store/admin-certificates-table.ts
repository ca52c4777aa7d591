import type { Db } from "./open-database.ts";

/**
 * The one admin client certificate accepted per admin name (sha256 of its
 * DER). The studio CA can sign any number of admin certificates; only the
 * one recorded here opens Control and StudioAdmin, so rotating it
 * (`nightshift admin rotate`) shuts the old one out at once.
 */
export class AdminCertificatesTable {
  constructor(private readonly db: Db) {}

  fingerprint(name: string): string | undefined {
    const row = this.db.prepare(`SELECT cert_fingerprint AS f FROM admin_certificates WHERE name = ?`).get(name) as { f: string } | undefined;
    return row?.f;
  }

  record(name: string, certFingerprint: string, at: number): void {
    this.db
      .prepare(
        `INSERT INTO admin_certificates (name, cert_fingerprint, issued_at) VALUES (?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET cert_fingerprint = excluded.cert_fingerprint, issued_at = excluded.issued_at`,
      )
      .run(name, certFingerprint, at);
  }
}
