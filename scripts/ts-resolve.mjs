// Lets Node run the project's TypeScript sources directly (type stripping):
// an import of "./x.js" that does not exist resolves to "./x.ts", as tsc maps it.
// Usage: node --import ./scripts/ts-resolve.mjs some.ts (the lab image build and the benchmarks use it)
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (err) {
      if (/^\.{1,2}\/.*\.js$/.test(specifier)) return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
      throw err;
    }
  },
});
