// The layering of DESIGN.md holds for the whole tree, and the rule itself
// catches what it must (a planted upward import, an import from test/).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { layerOf, treeViolations, violations } from '../support/layers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('package layers', () => {
  it('no file in lib, cmd or scripts imports from a layer above it or from test/', () => {
    expect(treeViolations(root)).toEqual([]);
  });

  it('places files in their layers, the most specific path winning', () => {
    expect(layerOf('lib/errors.ts')).toBe(0);
    expect(layerOf('lib/host/ssh.ts')).toBe(1);
    expect(layerOf('lib/containerd/config-plan.ts')).toBe(2);
    expect(layerOf('lib/node/plan.ts')).toBe(3);
    expect(layerOf('lib/kube/controller.ts')).toBe(4);
    expect(layerOf('cmd/commands/install.ts')).toBe(5);
  });

  it('catches a planted upward import', () => {
    const planted = "import { planNode } from '../node/plan.js';\n";
    expect(violations('lib/containerd/facts.ts', planted)).toEqual([
      { file: 'lib/containerd/facts.ts', imports: 'lib/node/plan.ts', why: 'layer 2 imports from layer 3 above it' },
    ]);
    expect(violations('lib/host/local.ts', "const m = await import('../kube/client.js');")).toHaveLength(1);
  });

  it('allows imports downwards and within a layer', () => {
    expect(violations('lib/node/plan.ts', "import { planConfig } from '../containerd/config-plan.js';\nimport type { NodeHost } from '../host/host.js';\n")).toEqual([]);
    expect(violations('lib/shims/releases.ts', "import { x } from '../oci/image-archive.js';")).toEqual([]);
  });

  it('refuses imports from test/ outside the tests', () => {
    expect(violations('scripts/bench/fleet.ts', "import { start } from '../../test/support/github-server.ts';")).toEqual([
      { file: 'scripts/bench/fleet.ts', imports: 'test/support/github-server.ts', why: 'nothing outside test/ may import from test/' },
    ]);
  });
});
