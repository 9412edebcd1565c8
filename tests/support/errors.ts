// Test support: the shape every user-facing error must have.

import { expect } from 'vitest';
import type { SlipLabError } from '../../src/errors';

/**
 * Rejects with `type`, and a message that mentions `mentions` and is one sentence ending in advice
 * (no stack, no newline); `advice` is the shape of that ending.
 */
export async function expectClearError(
  promise: Promise<unknown>,
  type: new (...args: never[]) => SlipLabError,
  mentions: RegExp,
  advice: RegExp = /[.;] [a-z].*\.$/,
): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(type);
  const message = (error as Error).message;
  expect(message).toMatch(mentions);
  expect(message).not.toContain('\n');
  expect(message).toMatch(advice);
}
