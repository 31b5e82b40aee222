// Builds the browser script: snippet/*.ts → one IIFE, dist/sspx.js, minified hard (every byte ships on
// every landing page), with its sizes printed on every build. The source stays plain TypeScript; terser does the
// squeezing (several passes, top-level mangling, and the unsafe rewrites that hold for this code: arrows for
// functions that use no `this` or `arguments`, method and comparison shortcuts, and dropping property reads whose
// value goes unused, of which the script has none).
import terser from '@rollup/plugin-terser';
import typescript from '@rollup/plugin-typescript';
import { reportSize } from './scripts/report-size.mjs';

/** Top-level `const`/`let` of the snippet's modules become `var`, so terser folds every declaration of the one
 * closure into a single `var` list (a few bytes of gzip). Safe there: nothing at a module's top level relies on
 * block scoping or the temporal dead zone. Runs on TypeScript's output, whose top level starts at column 0. Every
 * other `const` becomes `let` (two bytes each, ~4 of gzip): a `const` only forbids reassignment, which the type
 * checker has already ruled out. */
const topLevelVar = {
  name: 'top-level-var',
  transform: (code, id) => (/[\\/]snippet[\\/]/.test(id) ? code.replace(/^(export )?(?:const|let) /gm, '$1var ').replace(/\bconst /g, 'let ') : null),
};

export default {
  input: 'snippet/main.ts',
  output: {
    file: 'dist/sspx.js',
    format: 'iife',
    strict: false, // no 'use strict' prologue: nothing in the script depends on it
    plugins: [
      terser({
        ecma: 2020,
        toplevel: true,
        compress: { passes: 5, unsafe: true, unsafe_arrows: true, unsafe_methods: true, unsafe_comps: true, unsafe_undefined: true, keep_fargs: false, pure_getters: true },
        mangle: { toplevel: true },
        format: { comments: false },
      }),
      // and the `;` and newline after the final `})()`: the newline is a byte used nowhere else, dear in gzip
      {
        name: 'trim-end',
        generateBundle(_options, bundle) {
          for (const chunk of Object.values(bundle)) if (chunk.type == 'chunk') chunk.code = chunk.code.replace(/;?\s*$/, '');
        },
      },
    ],
  },
  plugins: [typescript({ tsconfig: 'snippet/tsconfig.json', include: ['snippet/**/*.ts'] }), topLevelVar, reportSize()],
};
