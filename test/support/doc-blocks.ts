// Why this file exists: the docs tests run the README's and deploy/'s fenced code blocks; this reads them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../cli/paths.ts";

/** One fenced block: its language, its markers (the words after the language), its text and where it is. */
export interface DocBlock {
  file: string;
  line: number;
  lang: string;
  markers: string[];
  text: string;
  /** The `##`/`###` heading it sits under. */
  section: string;
}

/**
 * Every fenced block of a Markdown file of the project. A block is run by a docs test only when its info
 * string carries a marker after the language (```sh studio-test, ```yaml job-test, ```yaml config-test);
 * see the README's "The documentation runs as written".
 */
export function docBlocks(relativeFile: string): DocBlock[] {
  const lines = readFileSync(join(PROJECT_ROOT, relativeFile), "utf8").split("\n");
  const blocks: DocBlock[] = [];
  let section = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const heading = /^#{2,3} (.*)/.exec(line);
    if (heading) section = heading[1] as string;
    const open = /^```(\S*)\s*(.*)$/.exec(line);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !(lines[i] as string).startsWith("```"); i++) body.push(lines[i] as string);
    const words = (open[2] as string).split(/\s+/).filter((w) => w !== "");
    blocks.push({ file: relativeFile, line: start + 1, lang: open[1] as string, markers: words, text: body.join("\n") + "\n", section });
  }
  return blocks;
}
