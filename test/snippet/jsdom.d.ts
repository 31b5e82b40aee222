// jsdom ships no types of its own and @types/jsdom is not a dependency: the little the snippet tests use.
// (Delete this file if @types/jsdom is ever added.)
declare module 'jsdom' {
  export class JSDOM {
    constructor(html?: string, options?: Record<string, unknown>);
    readonly window: any;
  }
  export class ResourceLoader {
    constructor(options?: Record<string, unknown>);
    fetch(url: string, options: unknown): Promise<Buffer> | null;
  }
  export class VirtualConsole {
    on(event: string, listener: (...args: any[]) => void): this;
  }
}
