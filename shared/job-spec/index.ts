/** The job spec: one schema, validated once, errors name the field. See README.md. */
export { validateJobSpec, jobSpecSchema } from "./validate-job-spec.ts";
export { parseJobFile, readJobFileChecked, validateJobFileText } from "./parse-job-file.ts";
export { checkAgainstInput } from "./check-against-input.ts";
export { checkModelsAvailable } from "./check-models.ts";
export { parseByteSize } from "./byte-size.ts";
export { rawJobSpecSchema, type JobSpecInput, type RawJobSpec } from "./raw-schema.ts";
export { OUTPUT_TEMPLATE_VARIABLES } from "./output-templates.ts";
export { DEFAULT_FPS, MAX_JOB_FRAMES } from "./job-spec-limits.ts";
export type * from "./job-spec-types.ts";
export { parseApiWorkflow, workflowByContent, MAX_WORKFLOW_BYTES, type ApiWorkflow, type ComfyWorkflowByContent } from "./comfy-workflow-content.ts";
