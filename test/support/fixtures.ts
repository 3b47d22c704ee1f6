// Where the captured inputs live (test/fixtures, each one's origin in its ORIGIN.md).
import path from 'node:path';
import type { ContainerdVersion } from '../../scripts/lab/support/netns.js';

const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

/** The full path of a containerd config fixture (test/fixtures/containerd/NAME). */
export function containerdFixture(name: string): string {
  return path.join(FIXTURES, 'containerd', name);
}

/** `containerd config default` of each containerd the tests run, as captured. */
export const DEFAULT_CONFIG: Record<ContainerdVersion, string> = {
  '1.6': containerdFixture('containerd-1.6.20-default.toml'),
  '2.2': containerdFixture('containerd-2.2.9-default.toml'),
  '2.4': containerdFixture('containerd-2.4.2-default.toml'),
};
