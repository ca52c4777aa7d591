import { InvalidArgumentError } from "commander";

export function positiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag} expects a whole number >= 1, got '${v}'`);
    return n;
  };
}

export function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}
