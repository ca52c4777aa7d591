import type { z } from "zod";
import { BadInputError } from "../errors.ts";
import { MAX_ISSUES_SHOWN } from "./job-spec-limits.ts";
import { formatFieldPath, type SpecIssue } from "./spec-issue.ts";

/**
 * Turns zod issues into SpecIssues with plain messages ("expected a string,
 * got a number"), and a list of SpecIssues into one BadInputError:
 * `job spec: steps[0].model: expected a string, got a number; name: is required`.
 * `field` is the first problem's dotted path.
 */

export function specIssuesFromZod(
  issues: readonly z.core.$ZodIssue[],
  raw: unknown,
  topLevelFields: readonly string[] = [],
): SpecIssue[] {
  return issues.flatMap((issue): SpecIssue[] => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({ path: [...issue.path, key], message: unknownFieldMessage(key, issue.path, topLevelFields) }));
    }
    return [{ path: issue.path, message: messageFor(issue, valueAt(raw, issue.path)) }];
  });
}

export function badInputFromIssues(issues: readonly SpecIssue[], prefix = "job spec"): BadInputError {
  const shown = issues.slice(0, MAX_ISSUES_SHOWN).map((issue) => {
    const field = formatFieldPath(issue.path);
    return field.length === 0 ? issue.message : `${field}: ${issue.message}`;
  });
  const more = issues.length - shown.length;
  const tail = more > 0 ? `; and ${more} more problem${more === 1 ? "" : "s"}` : "";
  const first = issues[0];
  const field = first === undefined ? "" : formatFieldPath(first.path);
  return new BadInputError(`${prefix}: ${shown.join("; ")}${tail}`, { field: field.length > 0 ? field : prefix });
}

function unknownFieldMessage(key: string, path: ReadonlyArray<PropertyKey>, topLevelFields: readonly string[]): string {
  if (path.length > 0 || topLevelFields.length === 0) return "unknown field";
  const close = topLevelFields.find((known) => editDistance(known.toLowerCase(), key.toLowerCase()) <= 2);
  return close === undefined ? `unknown field; fields are ${topLevelFields.join(", ")}` : `unknown field (did you mean '${close}'?)`;
}

/** Levenshtein distance, for "did you mean". Inputs are short field names. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function messageFor(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined) return "is required";
      return `expected ${typeName(issue.expected)}, got ${describe(value)}`;
    case "invalid_union":
      if ("discriminator" in issue && "options" in issue && Array.isArray(issue.options)) {
        const options = issue.options.map((o: unknown) => `'${String(o)}'`).join(", ");
        return value === undefined ? `is required (one of ${options})` : `must be one of ${options}, got ${describe(value)}`;
      }
      return issue.message;
    case "invalid_value": {
      const values = issue.values.map((v) => (typeof v === "string" ? `'${v}'` : String(v)));
      const expected = values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(", ")}`;
      return value === undefined ? `is required (${expected.replace(/^must be /, "")})` : `${expected}, got ${describe(value)}`;
    }
    case "too_small":
      return sizeMessage("at least", "more than", issue.origin, issue.minimum, issue.inclusive, value);
    case "too_big":
      return sizeMessage("at most", "less than", issue.origin, issue.maximum, issue.inclusive, value);
    case "not_multiple_of":
      return `must be a multiple of ${String(issue.divisor)}`;
    default:
      return issue.message;
  }
}

function sizeMessage(
  inclusiveWord: string,
  exclusiveWord: string,
  origin: string,
  limit: number | bigint,
  inclusive: boolean | undefined,
  value: unknown,
): string {
  const bound = `${inclusive === false ? exclusiveWord : inclusiveWord} ${String(limit)}`;
  if (origin === "array" || origin === "set") return `needs ${bound} item${Number(limit) === 1 ? "" : "s"}`;
  if (origin === "string") return Number(limit) === 1 && inclusiveWord === "at least" ? "must not be empty" : `must be ${bound} characters long`;
  return `must be ${bound}, got ${describe(value)}`;
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    string: "a string",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    object: "a mapping of fields",
    array: "a list",
  };
  return names[expected] ?? expected;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return `'${value.length > 40 ? `${value.slice(0, 40)}...` : value}'`;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "object") return "a mapping";
  return typeof value;
}

function valueAt(raw: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let current = raw;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}
