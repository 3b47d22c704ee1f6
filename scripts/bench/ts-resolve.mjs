// Lets Node run the repository's TypeScript directly (type stripping, Node >= 22.18):
// an import of "./x.js" that does not exist resolves to "./x.ts", as tsc maps it.
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
