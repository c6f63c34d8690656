/**
 * Typed wrappers around vitest's asymmetric matchers, which are typed `any` and would otherwise
 * trip the no-unsafe-* lint rules wherever they sit inside an expected object.
 */
import { expect } from 'vitest';

export const matching = (pattern: RegExp): string => expect.stringMatching(pattern) as string;
export const containing = (text: string): string => expect.stringContaining(text) as string;
export const anyString = (): string => expect.any(String) as string;
export const objectWith = <T extends object>(props: T): T =>
  expect.objectContaining(props as Record<string, unknown>) as T;

/** Runs `fn` and returns what it threw; fails when it does not throw. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}
