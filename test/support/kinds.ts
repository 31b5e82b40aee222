// What a test exercised, for the closing count of `npm test` (test/support/reporter.ts): the support modules
// say what they started (a real Chromium, a child process, a PostgreSQL schema, a listening server, a jsdom
// page) and the setup file (test/support/setup.ts) copies it onto each test's meta. A thing started in a
// beforeAll belongs to every later test of the file; one started inside a test to that test alone.
export const KINDS = ['chromium', 'child-process', 'postgres', 'http', 'jsdom', 'unit'] as const;
export type Kind = (typeof KINDS)[number];

/** how the closing lines name each kind */
export const KIND_LABELS: Record<Kind, string> = {
  chromium: 'real Chromium',
  'child-process': 'child process (dist/collector/cli.js)',
  postgres: 'PostgreSQL',
  http: 'collector over HTTP',
  jsdom: 'snippet in jsdom',
  unit: 'in-process (no server)',
};

declare module '@vitest/runner' {
  interface TaskMeta {
    kinds?: Kind[];
  }
}

const fileKinds = new Set<Kind>();
let testKinds: Set<Kind> | undefined;

/** records that the running file (in a hook outside tests) or the running test used this kind of part */
export function markKind(kind: Kind): void {
  (testKinds ?? fileKinds).add(kind);
}

/** called by the setup file around each test */
export function beginTest(): void {
  testKinds = new Set();
}

export function endTest(): Kind[] {
  const kinds = [...new Set([...fileKinds, ...(testKinds ?? [])])];
  testKinds = undefined;
  return kinds;
}

/** one kind per test, the heaviest it used, so the counts add up to the total */
export const primaryKind = (kinds: readonly string[] | undefined): Kind =>
  KINDS.find((k) => kinds?.includes(k)) ?? 'unit';
