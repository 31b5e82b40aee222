// Builds the browser script: snippet/*.ts → one block, dist/sspx.js, minified hard (every byte ships on
// every landing page), with its sizes printed on every build. The source stays plain TypeScript; terser does the
// squeezing (several passes, top-level mangling, and the unsafe rewrites that hold for this code: arrows for
// functions that use no `this` or `arguments`, method and comparison shortcuts, and dropping property reads whose
// value goes unused, of which the script has none).
import terser from '@rollup/plugin-terser';
import typescript from '@rollup/plugin-typescript';
import { reportSize } from './scripts/report-size.mjs';

/** Every `const` of the snippet's modules becomes `let` (two bytes each, ~4 of gzip), so terser folds the top level's
 * declarations into one `let` list: a `const` only forbids reassignment, which the type checker has already ruled
 * out. */
const constToLet = {
  name: 'const-to-let',
  transform: (code, id) => (/[\\/]snippet[\\/]/.test(id) ? code.replace(/\bconst /g, 'let ') : null),
};

/** The bundle's top level wrapped in a block, `{…}`, not an IIFE, `(()=>{…})()` (~4 bytes of gzip): its `let`s and
 * arrow functions are the block's, so a classic script still leaves nothing in the page's globals (no `var` and no
 * function declaration, which would escape a block, reaches the top level; the globals test guards it). Also drops
 * the `;` and newline after the end: the newline is a byte used nowhere else, dear in gzip. */
const inBlock = {
  name: 'in-block',
  generateBundle(_options, bundle) {
    for (const chunk of Object.values(bundle)) if (chunk.type == 'chunk') chunk.code = '{' + chunk.code.replace(/;?\s*$/, '') + '}';
  },
};

export default {
  input: 'snippet/main.ts',
  output: {
    file: 'dist/sspx.js',
    // a module with no imports or exports: its top level, which inBlock wraps. plugin-terser minifies `es` output as
    // a module (strict); the script assumes nothing of strict mode, and the tests run it as a classic script
    format: 'es',
    plugins: [
      terser({
        ecma: 2020,
        toplevel: true,
        compress: { passes: 5, unsafe: true, unsafe_arrows: true, unsafe_methods: true, unsafe_comps: true, unsafe_undefined: true, keep_fargs: false, pure_getters: true },
        mangle: { toplevel: true },
        format: { comments: false },
      }),
      inBlock,
    ],
  },
  plugins: [typescript({ tsconfig: 'snippet/tsconfig.json', include: ['snippet/**/*.ts'] }), constToLet, reportSize()],
};
