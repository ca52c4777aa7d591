/** One problem found in a job spec: where (a path into the spec) and what. */
export interface SpecIssue {
  path: ReadonlyArray<PropertyKey>;
  message: string;
}

/** ["steps", 0, "model"] -> "steps[0].model". */
export function formatFieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out.length === 0 ? String(key) : `.${String(key)}`;
  }
  return out;
}
