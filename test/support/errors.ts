import { expect } from 'vitest';
import { KubewasmError } from '../../lib/errors.js';

/** The KubewasmError fn throws; fails the test when it throws nothing or something else. */
export function errorOf(fn: () => unknown): KubewasmError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KubewasmError);
    return err as KubewasmError;
  }
  throw new Error('expected an error');
}
