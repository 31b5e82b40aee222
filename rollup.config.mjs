// Builds the browser script: snippet/*.ts → one IIFE, dist/sspx.js, minified hard (every byte ships on
// every landing page), with its sizes printed on every build.
import terser from '@rollup/plugin-terser';
import typescript from '@rollup/plugin-typescript';
import { reportSize } from './scripts/report-size.mjs';

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
    ],
  },
  plugins: [typescript({ tsconfig: 'snippet/tsconfig.json', include: ['snippet/**/*.ts'] }), reportSize()],
};
