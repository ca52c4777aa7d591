/**
 * What the dashboard may do, each one a call into the coordinator's domain:
 * job actions through the control API, approve and remove through the
 * enrollment service, join tokens through the studio trust, thumbnails of
 * committed frames (never the frames themselves).
 */
import { isAbsolute, resolve } from "node:path";
import type { ControlApi, JobView } from "../control/control-api.ts";
import type { Store } from "../store/store.ts";
import type { EnrollmentService } from "../trust/enrollment-service.ts";
import type { JoinTokens } from "../trust/join-tokens.ts";
import { NotFoundError } from "../grpc/grpc-errors.ts";
import type { Thumbnails } from "./thumbnails.ts";

export interface DashboardActionDeps {
  api: ControlApi;
  store: Store;
  enrollment: EnrollmentService;
  tokens: JoinTokens;
  caFingerprint: string;
  thumbnails: Thumbnails;
  outputRoot: string;
}

/** Join tokens made from the page: single use, one day. */
const PAGE_TOKEN_TTL_MS = 24 * 3600_000;

export class DashboardActions {
  constructor(private readonly d: DashboardActionDeps) {}

  pause = (jobId: string): JobView => this.d.api.pause(jobId);
  resume = (jobId: string): JobView => this.d.api.resume(jobId);
  cancel = (jobId: string): JobView => this.d.api.cancel(jobId);
  setPriority = (jobId: string, priority: number): JobView => this.d.api.setPriority(jobId, priority);
  approve = (agentId: string) => this.d.enrollment.approve(agentId);
  remove = (agentId: string) => this.d.enrollment.remove(agentId);

  createJoinToken(): { token: string; caFingerprint: string; expiresAtMs: number } {
    const { token, record } = this.d.tokens.create({ ttlMs: PAGE_TOKEN_TTL_MS, multiUse: false, label: "dashboard" });
    return { token, caFingerprint: this.d.caFingerprint, expiresAtMs: record.expiresAt ?? 0 };
  }

  /** A thumbnail of one committed frame of the job. */
  async thumbnail(jobId: string, frame: number): Promise<Buffer> {
    const row = this.committed(jobId).find((f) => f.frame === frame);
    if (!row) throw new NotFoundError(`job ${jobId} has no finished frame ${frame}`);
    return this.d.thumbnails.frame(jobId, frame, this.pathOf(row.path));
  }

  /** The job's contact sheet: its finished frames in order, small. */
  async contactSheet(jobId: string): Promise<Buffer> {
    const frames = this.committed(jobId).sort((a, b) => a.frame - b.frame);
    return this.d.thumbnails.contactSheet(jobId, frames.map((f) => [f.frame, this.pathOf(f.path)] as [number, string]));
  }

  private committed(jobId: string) {
    this.d.api.job(jobId); // NotFoundError for an unknown job
    return this.d.store.frames.listByJob(jobId);
  }

  private pathOf(path: string): string {
    return isAbsolute(path) ? path : resolve(this.d.outputRoot, path);
  }
}
