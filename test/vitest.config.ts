// Three tiers (DESIGN.md): unit (pure logic on captured inputs), integration
// (real containerd, sshd, dockerd on this machine), e2e (the lab cluster).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));
// `kubewasm install` in the e2e tests builds its installer image from the pinned inputs
// scripts/lab/build/image-inputs.sh fetched (lib/installer-image/inputs.ts), never the network.
const imageInputs = `${process.env['KUBEWASM_CACHE'] ?? '/var/cache/kubewasm-lab'}/image-inputs`;

export default defineConfig({
  test: {
    root,
    projects: [
      { test: { name: 'unit', root, include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'integration',
          root,
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // Real daemons share this machine's two cores: one file at a time.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          root,
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/e2e/global-setup.ts'],
          env: { KUBEWASM_IMAGE_INPUTS: imageInputs },
          testTimeout: 600_000,
          hookTimeout: 1_800_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
