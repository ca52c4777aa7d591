import type { JobSpec } from "../../shared/job-spec/index.ts";
import type { JobRow } from "../store/jobs-table.ts";

/** Compiled specs by job id; the stored JSON is the compiled spec, so parsing it back needs no validation. */
export class JobSpecs {
  private readonly cache = new Map<string, JobSpec>();

  of(job: JobRow): JobSpec {
    let spec = this.cache.get(job.id);
    if (!spec) {
      spec = JSON.parse(job.specJson) as JobSpec;
      this.cache.set(job.id, spec);
    }
    return spec;
  }
}
