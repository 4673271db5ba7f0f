import { monotonicFactory } from "ulid";

/** Injected wherever time matters, so tests freeze it instead of sleeping. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** A clock that stays where it is put. */
export class FixedClock implements Clock {
  constructor(private current: Date) {}
  now(): Date {
    return new Date(this.current);
  }
  set(at: Date | string): void {
    this.current = new Date(at);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export type IdGenerator = (at: Date) => string;

/** Time-sortable ULIDs, monotonic within one millisecond of one process. */
export function ulidGenerator(): IdGenerator {
  const next = monotonicFactory();
  return (at) => next(at.getTime());
}
