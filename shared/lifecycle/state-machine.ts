import { IllegalTransitionError } from "../errors.ts";

/** A transition table: for each state, the states it may move to. */
export type Transitions<S extends string> = Readonly<Record<S, readonly S[]>>;

/** Throws IllegalTransitionError unless `from -> to` is in the table. */
export function assertTransition<S extends string>(entity: string, table: Transitions<S>, from: S, to: S): void {
  if (!table[from]?.includes(to)) throw new IllegalTransitionError(entity, from, to);
}

export function canTransition<S extends string>(table: Transitions<S>, from: S, to: S): boolean {
  return table[from]?.includes(to) ?? false;
}
