// Types for report-size.mjs, so the TypeScript tests can import its budget.
export declare const GZIP_BUDGET: number;
export declare function sizes(code: string): { raw: number; gzip: number; brotli: number };
export declare function reportSize(budget?: number): { name: string; writeBundle(options: unknown, bundle: Record<string, unknown>): void };
