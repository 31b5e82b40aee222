// Unreplaced ${SSP_DATA} macros: a misconfigured line item. Whichever route meets one (a touch, a conversion, an app
// open) counts it against its site and UTC day, then refuses it; the count is committed before the answer.
import type { z } from 'zod';
import { utcDay } from '../clock.js';
import type { Context } from '../context.js';
import { Batcher } from '../batcher.js';
import { parseRequest, Refusal } from '../fields.js';
import type { IngestStore } from '../store/store.js';

export class Macros {
  private readonly diagnostics: Batcher<{ day: string; site: string; kind: string; count: number }, void>;

  constructor(private readonly ctx: Context<IngestStore>) {
    this.diagnostics = new Batcher((rows) => ctx.store.countDiagnostics(rows).then(() => rows.map(() => undefined)));
  }

  /** counts one unreplaced macro for `site` (a site origin, `app` or `unknown`) */
  async count(site: string): Promise<void> {
    await this.diagnostics.add({ day: utcDay(this.ctx.clock.now()), site, kind: 'unreplaced_macro', count: 1 });
    this.ctx.events.emit('macro', { site });
  }

  /** parseRequest, counting a refused unreplaced macro against `site` first */
  async parse<S extends z.ZodType>(schema: S, body: unknown, site: string): Promise<z.infer<S>> {
    try {
      return parseRequest(schema, body);
    } catch (err) {
      if (err instanceof Refusal && err.reason === 'unreplaced_macro') await this.count(site);
      throw err;
    }
  }

  drain(): Promise<void> {
    return this.diagnostics.drain();
  }
}
