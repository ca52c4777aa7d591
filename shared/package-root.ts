/**
 * The package root (the folder with package.json): a module runs from its own folder in a checkout and
 * from dist/ once compiled (scripts/build.mjs), so paths to shipped files are taken from here, never from
 * a module's own location.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function packageRootFrom(moduleUrl: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export const PACKAGE_ROOT = packageRootFrom(import.meta.url);
