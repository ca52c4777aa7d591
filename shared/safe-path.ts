import { lstatSync, realpathSync } from "node:fs";
import path from "node:path";
import { BadInputError } from "./errors.ts";

/**
 * Paths that come from users (output templates, job names) are only ever used
 * relative to a root the studio chose (the output root on the NAS). Two layers
 * keep them there:
 *
 * - lexical: `relativePathProblem` refuses NUL, backslashes, absolute paths and
 *   ".." segments, so a rendered template cannot name anything outside;
 * - on disk: `resolveUnderRoot` also follows existing symlinks (realpath of the
 *   deepest existing ancestor) and refuses a path that leaves realpath(root).
 *
 * Templates use `{name}` or `{name:0N}` (zero-padded to N digits, numbers only);
 * `{{` and `}}` stand for literal braces.
 */

export type TemplateValue = string | number;

export type TemplatePart = { literal: string } | { variable: string; pad: number };

export type TemplateParse = { ok: true; parts: TemplatePart[]; variables: string[] } | { ok: false; problem: string };

const VARIABLE = /^([a-z][a-z0-9_]*)(?::0([1-9]|1[0-9]|20))?$/;

/** Why `relative` is not a safe relative path, or undefined when it is. */
export function relativePathProblem(relative: string): string | undefined {
  if (relative.length === 0) return "must not be empty";
  if (relative.includes("\0")) return "must not contain a NUL character";
  if (relative.includes("\\")) return `'${relative}' must not contain backslashes (use '/')`;
  if (path.posix.isAbsolute(relative)) return `'${relative}' must be relative, not an absolute path`;
  if (relative.split("/").includes("..")) return `'${relative}' must not contain '..'`;
  if (path.posix.normalize(relative) === "." || path.posix.normalize(relative) === "./") {
    return `'${relative}' must name something under the root, not the root itself`;
  }
  return undefined;
}

/** Lexical check; returns the normalized relative path or throws BadInputError naming `field`. */
export function checkRelativePath(relative: string, field: string): string {
  const problem = relativePathProblem(relative);
  if (problem !== undefined) throw new BadInputError(`${field}: ${problem}`, { field });
  return path.posix.normalize(relative);
}

/** Splits a template into literal text and variables. Never throws. */
export function parseTemplate(template: string): TemplateParse {
  const parts: TemplatePart[] = [];
  const variables: string[] = [];
  let literal = "";
  let i = 0;
  while (i < template.length) {
    const ch = template[i];
    const next = template[i + 1];
    if ((ch === "{" && next === "{") || (ch === "}" && next === "}")) {
      literal += ch;
      i += 2;
    } else if (ch === "}") {
      return { ok: false, problem: `'}' at position ${i} has no matching '{' (write '}}' for a literal brace)` };
    } else if (ch === "{") {
      const close = template.indexOf("}", i + 1);
      if (close < 0) return { ok: false, problem: `'{' at position ${i} is never closed` };
      const body = template.slice(i + 1, close);
      const match = VARIABLE.exec(body);
      if (match === null) {
        return { ok: false, problem: `'{${body}}' is not a variable; write {name} or {name:0N}` };
      }
      if (literal.length > 0) parts.push({ literal });
      literal = "";
      const variable = match[1] ?? "";
      parts.push({ variable, pad: match[2] === undefined ? 0 : Number(match[2]) });
      if (!variables.includes(variable)) variables.push(variable);
      i = close + 1;
    } else {
      literal += ch;
      i += 1;
    }
  }
  if (literal.length > 0) parts.push({ literal });
  return { ok: true, parts, variables };
}

/**
 * Renders `template` with `vars`. Each value must be one path segment: no '/',
 * no '\\', no NUL, not empty. `{x:0N}` needs a non-negative integer. Throws
 * BadInputError naming `field`. The result is not checked as a path: pass it
 * to `checkRelativePath` or `resolveUnderRoot`.
 */
export function renderTemplate(
  template: string,
  vars: Readonly<Record<string, TemplateValue>>,
  field = "template",
): string {
  const parsed = parseTemplate(template);
  if (!parsed.ok) throw new BadInputError(`${field}: ${parsed.problem}`, { field });
  let out = "";
  for (const part of parsed.parts) {
    if ("literal" in part) {
      out += part.literal;
      continue;
    }
    const value = Object.hasOwn(vars, part.variable) ? vars[part.variable] : undefined;
    if (value === undefined) {
      const known = Object.keys(vars).map((k) => `{${k}}`);
      throw new BadInputError(
        `${field}: unknown variable {${part.variable}}; known: ${known.join(", ") || "(none)"}`,
        { field },
      );
    }
    out += formatValue(part, value, field);
  }
  return out;
}

function formatValue(part: { variable: string; pad: number }, value: TemplateValue, field: string): string {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || (part.pad > 0 && value < 0)) {
      throw new BadInputError(`${field}: {${part.variable}} must be a whole number, got ${value}`, { field });
    }
    return part.pad > 0 ? String(value).padStart(part.pad, "0") : String(value);
  }
  if (part.pad > 0) {
    throw new BadInputError(`${field}: {${part.variable}:0${part.pad}} pads numbers only, got '${value}'`, { field });
  }
  if (value.length === 0 || /[/\\\0]/.test(value)) {
    throw new BadInputError(
      `${field}: {${part.variable}} is '${value}', which cannot be one path segment (empty, '/', '\\' or NUL)`,
      { field },
    );
  }
  return value;
}

/**
 * The absolute path of `relative` under `root`, refusing anything that would
 * leave the root, lexically or through an existing symlink (the deepest
 * existing ancestor is realpath'd and must stay under realpath(root); a broken
 * symlink on the way is refused because writing through it could land
 * anywhere). Returns the path with existing symlinks resolved. Synchronous and
 * cheap; it cannot rule out a symlink created after the check, so writers
 * should still create files in folders only they write to. `rootName` names
 * the root in messages ("shared root" for scenes on the studio's NAS).
 */
export function resolveUnderRoot(root: string, relative: string, field: string, rootName = "output root"): string {
  const normalized = checkRelativePath(relative, field);
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch (err) {
    throw new BadInputError(`${rootName} '${root}' does not exist or cannot be read`, { field: rootName === "output root" ? "outputRoot" : field, cause: err });
  }
  const target = path.resolve(realRoot, normalized);
  const missing: string[] = [];
  let existing = target;
  const depth = target.split(path.sep).length;
  for (let i = 0; i <= depth && !exists(existing); i++) {
    missing.unshift(path.basename(existing));
    existing = path.dirname(existing);
  }
  let realExisting: string;
  try {
    realExisting = realpathSync(existing);
  } catch (err) {
    throw new BadInputError(`${field}: '${relative}' passes through a broken symlink`, { field, cause: err });
  }
  if (!isWithin(realRoot, realExisting)) {
    throw new BadInputError(`${field}: '${relative}' leaves the ${rootName} through a symlink`, { field });
  }
  return path.join(realExisting, ...missing);
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function isWithin(parent: string, child: string): boolean {
  if (child === parent) return true;
  const prefix = parent.endsWith(path.sep) ? parent : parent + path.sep;
  return child.startsWith(prefix);
}
