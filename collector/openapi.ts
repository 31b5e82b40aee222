// The OpenAPI 3.1 description of the collector's HTTP API, built from the same zod schemas the routes validate
// with, so a body the document allows is a body the route takes. Served at GET /openapi.json and committed as
// openapi.json (written by collector/commands/openapi.ts); test/operators/openapi.test.ts keeps the three, and
// the Express app's actual routes, in step. It depends on no configuration, so every collector serves the same text.
import { Router } from 'express';
import { z } from 'zod';
import { browserConversionSchema, conversionSchema } from './ingest/conversions.js';
import { appOpenSchema } from './ingest/installs.js';
import { scriptTouchSchema, serverTouchSchema } from './ingest/touches.js';
import { VERSION } from './paths.js';
import { ATTEMPT_OUTCOMES, BIND_CONFIDENCE, BIND_METHODS, CONVERSION_OUTCOMES, DUPLICATE_RULES, FIRE_STATES, REENGAGE_METHODS, TOUCH_KINDS } from './vocabulary.js';

type Json = Record<string, unknown>;

/** a request body schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), as the client sends it */
const bodySchema = (schema: z.ZodType): Json => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  return rest;
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const str = (description?: string, extra: Json = {}) => ({ type: 'string', ...(description && { description }), ...extra });
const int = (description?: string) => ({ type: 'integer', ...(description && { description }) });
const nullable = (schema: Json) => ({ anyOf: [schema, { type: 'null' }] });
const obj = (properties: Record<string, Json>, required: string[] = Object.keys(properties), extra: Json = {}) => ({
  type: 'object',
  properties,
  required,
  ...extra,
});

const json = (schema: Json, description: string) => ({ description, content: { 'application/json': { schema } } });
const errorRef = (name: string) => ({ $ref: `#/components/responses/${name}` });

/** the refusals every route of a kind can answer, beside its own */
const ERRORS = {
  body: { 400: errorRef('BadRequest'), 413: errorRef('BodyTooLarge'), 415: errorRef('UnsupportedMediaType') },
  key: { 401: errorRef('Unauthorized'), 429: errorRef('RateLimited') },
  rate: { 429: errorRef('RateLimited') },
  store: { 503: errorRef('StoreUnavailable') },
};

const jsonAndText = (schema: Json) => ({
  required: true,
  description: 'JSON, sent as application/json or as text/plain (a CORS-simple request, no preflight)',
  content: { 'application/json': { schema }, 'text/plain': { schema } },
});

const conversionAnswer = json(ref('ConversionResult'), 'the conversion was committed (attributed, unattributed or duplicate)');
const droppedAnswer = {
  description: 'dropped without storing (a touch: bot, prefetch, Sec-GPC, no user agent, or an unreplaced ${SSP_DATA} macro, counted for its site; a conversion: Sec-GPC); the reason is also in X-Sspx-Reason',
  headers: { 'X-Sspx-Reason': { schema: str() } },
  content: { 'application/json': { schema: obj({ dropped: str('why the request was not recorded') }) }, 'image/gif': { schema: str(undefined, { contentMediaType: 'image/gif' }) } },
};
const gif = (description: string) => ({
  description,
  headers: { 'Cache-Control': { schema: str(undefined, { const: 'no-store' }) } },
  content: { 'image/gif': { schema: str('a transparent 1×1 GIF', { contentMediaType: 'image/gif' }) } },
});
/** a HEAD of a beacon route (a link checker's, a mail scanner's): the GIF's head, nothing recorded */
const headOnly = () => ({
  tags: ['browser'],
  summary: "The GIF's head alone; records nothing (a link checker's or a mail scanner's HEAD)",
  security: [],
  responses: { 200: gif('nothing recorded'), ...ERRORS.rate },
});
const preflight = (path: string) => ({
  tags: ['browser'],
  summary: `CORS preflight for ${path}, answered for configured sites only`,
  responses: { 204: { description: 'allowed: the Access-Control-Allow-* headers are set' }, 403: errorRef('Forbidden') },
});
const fireId = { name: 'id', in: 'path', required: true, schema: str('the fire id', { pattern: '^[\\w.:-]{1,128}$' }) };
/** a path that is not valid percent-encoded UTF-8 cannot name a fire */
const badPath = { 400: errorRef('BadRequest') };
const monitoring = { tags: ['monitoring'], security: [] };

/** the dashboard: HTML pages behind a session cookie; forms carry a CSRF token; refusals are HTML pages too */
const html = (description: string) => ({ description, content: { 'text/html': { schema: str() } } });
const seeOther = (description: string) => ({ description, headers: { Location: { schema: str() } } });
const page = (summary: string, extra: Json = {}) => ({
  tags: ['dashboard'],
  summary,
  security: [{ adminSession: [] }],
  ...extra,
  responses: {
    200: html('the page'),
    303: seeOther('no session: to /admin/login?next=…'),
    404: html('no such page or fire'),
    503: html('the store could not be read'),
    ...(extra.responses as Json | undefined),
  },
});
const form = (schema: Json) => ({ required: true, content: { 'application/x-www-form-urlencoded': { schema } } });
const asset = (type: string) => ({
  get: {
    tags: ['dashboard'],
    summary: 'A static asset of the dashboard (cacheable, ETag)',
    security: [],
    responses: { 200: { description: 'the asset', content: { [type]: { schema: str() } } }, 304: { description: 'not modified' } },
  },
});

const components = {
  securitySchemes: {
    serverKey: { type: 'http', scheme: 'bearer', description: 'a key from keys.server in the configuration: site backends' },
    appKey: { type: 'http', scheme: 'bearer', description: 'a key from keys.app: the advertiser\'s apps' },
    adminKey: { type: 'http', scheme: 'bearer', description: 'a key from keys.admin: operators' },
    adminSession: { type: 'apiKey', in: 'cookie', name: 'sspx_admin', description: 'the dashboard session, set by POST /admin/login' },
  },
  schemas: {
    Error: obj({ error: str('a stable code naming the refusal, such as invalid_order_id'), message: str('what to change, for a person') }),
    ScriptTouch: bodySchema(scriptTouchSchema),
    ServerTouch: bodySchema(serverTouchSchema),
    BrowserConversion: bodySchema(browserConversionSchema),
    Conversion: bodySchema(conversionSchema),
    AppOpen: bodySchema(appOpenSchema),
    AppOpenResult: obj(
      {
        install_id: str(),
        bound: { type: 'boolean' },
        method: nullable(str('the evidence that bound the install', { enum: BIND_METHODS })),
        touch: nullable(obj({ touch_id: str(), cid: str(), kind: str(undefined, { enum: TOUCH_KINDS }), occurred_at: int() })),
        confidence: { type: 'number', description: `how far the binding is trusted, by method (${Object.entries(BIND_CONFIDENCE).map(([m, v]) => `${m} ${v}`).join(', ')}); attribution prefers touches reached the surer way` },
        flags: { type: 'object', description: 'fraud signals, such as a click injected just before the install' },
        reengagement: obj(
          {
            method: str('deep_link: the cid named a recorded click (its time is that click\'s); token: the token itself', { enum: REENGAGE_METHODS }),
            touch_id: str(),
            cid: str(),
            kind: str(undefined, { enum: TOUCH_KINDS }),
            occurred_at: int(),
          },
          undefined,
          { description: 'only when a bound install is opened by a deep link whose cid or token names another click than its binding: the re-engagement click recorded for the install (source app; the same on a retry). The binding and its install conversion are unchanged; the install\'s later conversions may be credited to this click' },
        ),
        test: { type: 'boolean', description: 'only for a test open ("test": true) of an unbound install: the binding answered is the one a real open would make and was not stored; the on_install pixels\' fires are test fires, recorded and never sent' },
      },
      ['install_id', 'bound', 'method', 'touch'],
    ),
    ConversionResult: obj({
      outcome: str('attributed: a fire is queued; duplicate: same pixel and order_id already attributed (or min_minutes_per_conv); otherwise unattributed', {
        enum: CONVERSION_OUTCOMES,
      }),
      conversion_id: str('for a duplicate, the conversion it duplicates'),
      fire_id: nullable(str('the queued fire, when attributed; for a duplicate, the fire of the conversion it duplicates')),
      rule: nullable(str('the rule that made it a duplicate: order_id (the order was attributed already) or min_minutes_per_conv (the visitor converted within the pixel\'s repeat window); null otherwise', { enum: DUPLICATE_RULES })),
    }),
    TouchResult: obj({ touch_id: str(), cid: str('the click id, for deep links and the Play install referrer'), visitor_id: str() }),
    Fire: obj(
      {
        id: str(),
        conversion_id: str(),
        pixel_id: int(),
        order_id: nullable(str()),
        value: nullable(str()),
        other: nullable(str()),
        token: str('the auction token, byte for byte'),
        state: str(undefined, { enum: FIRE_STATES }),
        attempt_count: int(),
        next_attempt_at: nullable(int('ms since the epoch')),
        lease_owner: nullable(str()),
        lease_expires_at: nullable(int()),
        sending_at: nullable(int('while in flight: when the attempt\'s request was about to leave (committed first); a crash leaves it to tell a fire that surely never reached the router from one that may have')),
        last_outcome: nullable(str(undefined, { enum: ATTEMPT_OUTCOMES })),
        last_error: nullable(str()),
        created_at: int('ms since the epoch'),
        updated_at: int(),
        fired_at: nullable(int()),
        dry_run: {
          type: 'boolean',
          description: 'recorded by a dry run (dry_run in the configuration, as in the built-in local setup): its attempt holds the exact request, which was never sent',
        },
        test: {
          type: 'boolean',
          description: 'the fire of a test conversion ("test": true): recorded as a dry run (its attempt holds the exact request and transcript), never sent, never replayed',
        },
      },
      ['id', 'conversion_id', 'pixel_id', 'token', 'state', 'attempt_count', 'created_at', 'updated_at', 'dry_run', 'test'],
    ),
    Hop: obj(
      {
        request: obj({ method: str(), url: str(), headers: { type: 'array', items: { type: 'array', items: str(), minItems: 2, maxItems: 2 } } }),
        response: obj({
          http_version: str(),
          status: int(),
          status_text: str(),
          headers: { type: 'array', items: { type: 'array', items: str(), minItems: 2, maxItems: 2 } },
          body_excerpt: str(),
        }),
        error: str(),
        at_ms: { type: 'number' },
        duration_ms: { type: 'number' },
        remote_address: str(),
      },
      ['request', 'at_ms', 'duration_ms'],
    ),
    Attempt: obj(
      {
        id: int(),
        fire_id: str(),
        n: int('1 for the first attempt'),
        owner: nullable(str('the dispatcher that made it')),
        started_at: int(),
        duration_ms: nullable({ type: 'number' }),
        outcome: str(undefined, { enum: ATTEMPT_OUTCOMES }),
        error_class: nullable(str()),
        status: nullable(int()),
        url: nullable(str()),
        hops: nullable({ type: 'array', items: ref('Hop') }),
        next_attempt_at: nullable(int()),
        transcript: str('the attempt as `curl --verbose -L` prints it'),
      },
      ['id', 'n', 'started_at', 'outcome', 'transcript'],
    ),
    FireDetail: {
      allOf: [
        ref('Fire'),
        obj({
          pixel: nullable(str('the configured pixel name')),
          attempts: { type: 'array', items: ref('Attempt'), description: 'in the order they were made' },
          conversion: nullable({ type: 'object', description: 'the conversion the fire reports (its rule, superseded_by and duplicate_of among its columns)' }),
          touch: nullable({ type: 'object' }),
          linked: {
            type: 'array',
            items: { type: 'object' },
            description: 'the other reports its conversion decided, oldest first: its duplicates (duplicate_of, with the rule) and the unattributed conversions of its order it superseded (superseded_by)',
          },
        }),
      ],
    },
  },
  responses: {
    BadRequest: json(ref('Error'), 'refused: the code names the field or rule, such as invalid_token or unknown_field'),
    BodyTooLarge: json(ref('Error'), 'body_too_large'),
    UnsupportedMediaType: json(ref('Error'), 'unsupported_content_type'),
    Unauthorized: { ...json(ref('Error'), 'missing_key or invalid_key'), headers: { 'WWW-Authenticate': { schema: str() } } },
    Forbidden: json(ref('Error'), 'origin_not_allowed (not a configured site) or source_not_allowed (the pixel refuses this source)'),
    NotFound: json(ref('Error'), 'not_found, or fire_not_found'),
    RateLimited: {
      ...json(ref('Error'), 'rate_limited: rate_limit_per_minute exceeded for this address (public routes); key_rate_limited: exceeded for this key (/v1); too_many_failed_keys: failed_key_limit wrong keys from this address'),
      headers: { 'Retry-After': { schema: str() } },
    },
    StoreUnavailable: json(ref('Error'), 'store_unavailable: nothing was stored; retry later'),
  },
};

const paths = {
  '/sspx.js': {
    get: {
      tags: ['browser'],
      summary: 'The landing-page script: brotli or gzip by Accept-Encoding, cacheable, loadable from any site',
      description:
        'Only the headers a script needs. `?v=<version>` (the ETag without its quotes and encoding suffix) is cached for a ' +
        'year as immutable; the plain URL for an hour.',
      security: [],
      parameters: [{ name: 'v', in: 'query', required: false, schema: str('the version to pin: the ETag\'s core') }],
      responses: {
        200: {
          description: 'the script',
          headers: { ETag: { schema: str('strong, one per encoding') }, 'Content-Encoding': { schema: str('br or gzip') }, Vary: { schema: str('Accept-Encoding') } },
          content: { 'text/javascript': { schema: str() } },
        },
        304: { description: 'not modified (If-None-Match)' },
        503: json(ref('Error'), 'script_not_built'),
      },
    },
  },
  '/t': {
    options: preflight('/t'),
    head: headOnly(),
    post: {
      tags: ['browser'],
      summary: 'A click touch from the script; sets the first-party cookie sspx_vid',
      description:
        'The body is the script\'s own (short keys, not a public API): the landing URL as it is and the current one with the ' +
        'tag\'s data-params and data-ids (the collector reads the token there under data-params, strips the token params ' +
        'from the URL it stores and reads the device ids there), and the referrer; the language (Accept-Language) and the ' +
        'client hints (Sec-CH-UA-Mobile, Sec-CH-UA-Platform) come from the request headers, stored as l, mo and pf beside ' +
        'the ids. URLs that hold only an unreplaced macro are counted (202 dropped unreplaced_macro, no cookie). The shape ' +
        'older copies of the script sent is still read: the token as `t`, and their diagnostic, `t` alone, a value that ' +
        'may be an unreplaced macro (a macro is counted as above, anything else is read as a token).',
      security: [],
      requestBody: jsonAndText(ref('ScriptTouch')),
      responses: {
        200: { ...json(obj({ cid: str('the click id of this visit') }), 'recorded'), headers: { 'Set-Cookie': { schema: str('sspx_vid') } } },
        202: droppedAnswer,
        ...ERRORS.body,
        403: errorRef('Forbidden'),
        ...ERRORS.rate,
        ...ERRORS.store,
      },
    },
    get: {
      tags: ['browser'],
      summary: 'The script\'s image fallback for a touch: the same payload as POST /t, JSON in ?b=',
      security: [],
      parameters: [{ name: 'b', in: 'query', required: true, schema: str('the ScriptTouch payload as JSON') }],
      responses: {
        200: gif('recorded'),
        202: droppedAnswer,
        ...ERRORS.body,
        403: errorRef('Forbidden'),
        ...ERRORS.rate,
        ...ERRORS.store,
      },
    },
  },
  '/i': {
    head: headOnly(),
    get: {
      tags: ['browser'],
      summary: 'A view touch from an impression tracker',
      description: 'The token comes in one of the configured token_params (sspdata by default); idfa, aaid, gaid, adid, ifa or device_id may carry an advertising id.',
      security: [],
      parameters: [
        { name: 'sspdata', in: 'query', required: true, schema: str('the auction token (or another configured token parameter)') },
        { name: 'idfa', in: 'query', required: false, schema: str() },
        { name: 'aaid', in: 'query', required: false, schema: str() },
      ],
      responses: { 200: gif('recorded'), 202: droppedAnswer, 400: errorRef('BadRequest'), ...ERRORS.rate, ...ERRORS.store },
    },
  },
  '/c': {
    options: preflight('/c'),
    head: headOnly(),
    post: {
      tags: ['browser'],
      summary: 'A conversion reported by the script from the thank-you page, bound to its visitor through sspx_vid',
      security: [],
      requestBody: jsonAndText(ref('BrowserConversion')),
      responses: { 200: conversionAnswer, 202: droppedAnswer, ...ERRORS.body, 403: errorRef('Forbidden'), ...ERRORS.rate, ...ERRORS.store },
    },
    get: {
      tags: ['browser'],
      summary: 'The script\'s image fallback for a conversion: the same payload as POST /c, JSON in ?b=',
      security: [],
      parameters: [{ name: 'b', in: 'query', required: true, schema: str('the BrowserConversion payload as JSON') }],
      responses: { 200: gif('recorded'), 202: droppedAnswer, ...ERRORS.body, 403: errorRef('Forbidden'), ...ERRORS.rate, ...ERRORS.store },
    },
  },
  '/v1/touches': {
    post: {
      tags: ['server'],
      summary: 'A touch recorded by a site backend that saw the token itself',
      security: [{ serverKey: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: ref('ServerTouch') } } },
      responses: { 200: json(ref('TouchResult'), 'recorded'), ...ERRORS.body, ...ERRORS.key, ...ERRORS.store },
    },
  },
  '/v1/conversions': {
    post: {
      tags: ['server'],
      summary: 'A conversion from a site backend (server key) or an app (app key)',
      description: 'Needs one of visitor_id, token, cid, install_id or device_id. Never fires twice for one dedup key.',
      security: [{ serverKey: [] }, { appKey: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: ref('Conversion') } } },
      responses: { 200: conversionAnswer, ...ERRORS.body, ...ERRORS.key, 403: errorRef('Forbidden'), ...ERRORS.store },
    },
  },
  '/v1/app/open': {
    post: {
      tags: ['server'],
      summary: 'An open of an install: the first binds it to the touch that earned it (asking again answers the same); a deep link into a bound install records a re-engagement click',
      security: [{ appKey: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: ref('AppOpen') } } },
      responses: {
        200: json(ref('AppOpenResult'), 'bound, or not bound (no evidence matched a touch)'),
        ...ERRORS.body,
        ...ERRORS.key,
        409: json(ref('Error'), 'cid_already_bound: one click binds one install'),
        ...ERRORS.store,
      },
    },
  },
  '/v1/fires': {
    get: {
      tags: ['operators'],
      summary: 'Fires, newest first',
      security: [{ adminKey: [] }],
      parameters: [
        { name: 'state', in: 'query', schema: str(undefined, { enum: FIRE_STATES }) },
        { name: 'last_outcome', in: 'query', schema: str(undefined, { enum: ATTEMPT_OUTCOMES }) },
        { name: 'test', in: 'query', schema: str('true: test fires only (recorded, never sent); false: real ones only', { enum: ['true', 'false'] }) },
        { name: 'pixel', in: 'query', schema: str('a configured pixel name or a numeric pixel id') },
        { name: 'order_id', in: 'query', schema: str() },
        { name: 'from', in: 'query', schema: str('created at or after: ISO 8601 or ms since the epoch') },
        { name: 'to', in: 'query', schema: str('created before: ISO 8601 or ms since the epoch') },
        { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
        { name: 'before', in: 'query', schema: str('a fire id: the last one of the previous page') },
      ],
      responses: { 200: json(obj({ fires: { type: 'array', items: ref('Fire') } }), 'the page of fires'), 400: errorRef('BadRequest'), ...ERRORS.key },
    },
  },
  '/v1/fires/{id}': {
    get: {
      tags: ['operators'],
      summary: 'One fire with its attempts (in order) and their verbose transcripts',
      security: [{ adminKey: [] }],
      parameters: [fireId],
      responses: { 200: json(ref('FireDetail'), 'the fire'), ...badPath, ...ERRORS.key, 404: errorRef('NotFound') },
    },
  },
  '/v1/fires/{id}/evidence': {
    get: {
      tags: ['operators'],
      summary: 'The fire and every attempt as one text file, for an investigation with Microsoft',
      security: [{ adminKey: [] }],
      parameters: [fireId],
      responses: {
        200: { description: 'a text attachment', content: { 'text/plain': { schema: str() } } },
        ...badPath,
        ...ERRORS.key,
        404: errorRef('NotFound'),
      },
    },
  },
  '/v1/fires/{id}/replay': {
    post: {
      tags: ['operators'],
      summary: 'Queue a failed or held fire again, due now',
      security: [{ adminKey: [] }],
      parameters: [fireId],
      responses: {
        200: json(ref('Fire'), 'queued again'),
        ...badPath,
        ...ERRORS.key,
        404: errorRef('NotFound'),
        409: json(ref('Error'), 'not_replayable: only failed or held fires can be replayed'),
      },
    },
  },
  '/admin': {
    get: page('The dashboard overview: fires, conversions and touches over a period, with charts', {
      parameters: [{ name: 'period', in: 'query', schema: str('the period the charts cover', { default: 'day' }) }],
    }),
  },
  '/admin/login': {
    get: {
      tags: ['dashboard'],
      summary: 'The login form',
      security: [],
      parameters: [{ name: 'next', in: 'query', schema: str('the dashboard page to go to after logging in') }],
      responses: { 200: html('the form'), 303: seeOther('already logged in: to next') },
    },
    post: {
      tags: ['dashboard'],
      summary: 'Log in with an admin key: sets the session cookie (HttpOnly, SameSite=Strict, Path=/admin)',
      security: [],
      requestBody: form(obj({ key: str('an admin key'), next: str() }, ['key'])),
      responses: {
        303: { ...seeOther('logged in: to next'), headers: { Location: { schema: str() }, 'Set-Cookie': { schema: str('sspx_admin') } } },
        401: html('not an admin key, or none is configured'),
        403: html('the form was not sent from the dashboard (Origin)'),
        429: { ...html('too many wrong keys from this address (failed_key_limit): try again after Retry-After'), headers: { 'Retry-After': { schema: str() } } },
      },
    },
  },
  '/admin/logout': {
    post: {
      ...page('End the session'),
      requestBody: form(obj({ _csrf: str('the session\'s CSRF token') })),
      responses: { 303: seeOther('to /admin/login'), 403: html('no session, or a stale form (CSRF)') },
    },
  },
  '/admin/assets/admin.css': asset('text/css'),
  '/admin/assets/admin.js': asset('text/javascript'),
  '/admin/fires': {
    get: page('The fires table, filtered and paged', {
      parameters: ['pixel', 'order_id', 'state', 'from', 'to', 'before'].map((name) => ({ name, in: 'query', schema: str() })),
    }),
  },
  '/admin/fires/{id}': {
    get: page('One fire: its conversion, touch, attempts and their transcripts, and the replay button', { parameters: [fireId] }),
  },
  '/admin/installs/{id}': {
    get: page("One install: its binding, re-engagement clicks and device's touches in order, each marked with the conversions it earned", {
      parameters: [{ name: 'id', in: 'path', required: true, schema: str('the install id') }],
    }),
  },
  '/admin/fires/{id}/evidence': {
    get: page('The evidence text of one fire, as a download', {
      parameters: [fireId],
      responses: { 200: { description: 'a text attachment', content: { 'text/plain': { schema: str() } } } },
    }),
  },
  '/admin/fires/{id}/replay': {
    post: {
      ...page('Queue a failed or held fire again, due now'),
      parameters: [fireId],
      requestBody: form(obj({ _csrf: str('the session\'s CSRF token') })),
      responses: {
        303: seeOther('replayed: to the fire\'s page'),
        403: html('no session, or a stale form (CSRF)'),
        404: html('no fire has this id'),
        409: html('only failed or held fires can be replayed: the fire\'s page with the reason'),
        503: html('the store could not be read'),
      },
    },
  },
  '/admin/reconcile': {
    get: page("Reconciliation: the last report of Microsoft's attributed conversions beside our fires, order by order"),
    post: {
      ...page("Upload Microsoft's attributed-conversions report (CSV or JSON); it becomes the last report"),
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: obj({
              _csrf: str("the session's CSRF token"),
              report: str('the report file', { format: 'binary' }),
              since: str('optional UTC start of the period, YYYY-MM-DD'),
              until: str('optional UTC end of the period, exclusive'),
            }, ['_csrf', 'report']),
          },
        },
      },
      responses: {
        303: seeOther('saved: to /admin/reconcile?saved=1'),
        400: html('not a report: the page with the line and the reason'),
        403: html('no session, or a stale form (CSRF)'),
        413: html('larger than 32 MB'),
        503: html('the store could not be read'),
      },
    },
  },
  '/healthz': {
    get: { ...monitoring, summary: 'Liveness: answers while the process runs', responses: { 200: json(obj({ status: str(undefined, { const: 'ok' }) }), 'alive') } },
  },
  '/readyz': {
    get: {
      ...monitoring,
      summary: 'Readiness: the store answers and its migrations are current',
      responses: {
        200: json(obj({ status: str(undefined, { const: 'ready' }), store: str(undefined, { enum: ['sqlite', 'postgres'] }) }), 'ready'),
        503: json(
          obj({ status: str(undefined, { const: 'unready' }), error: str(undefined, { enum: ['store_unreachable', 'migrations_pending'] }), message: str() }),
          'not ready: do not route traffic here',
        ),
      },
    },
  },
  '/metrics': {
    get: {
      ...monitoring,
      summary: 'Prometheus metrics (text exposition format): Bearer <admin key>, or open with metrics_public',
      security: [{ adminKey: [] }, {}],
      responses: { 200: { description: 'sspx_* counters, histograms and queue gauges, and process metrics', content: { 'text/plain': { schema: str() } } }, ...ERRORS.key },
    },
  },
  '/openapi.json': {
    get: { ...monitoring, summary: 'This document', responses: { 200: json({ type: 'object' }, 'OpenAPI 3.1') } },
  },
};

/** drops keys whose value is undefined, so the document is plain JSON and equal to its committed copy */
const plain = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

export function openApiDocument(): Json {
  return plain({
    openapi: '3.1.0',
    info: {
      title: 'sspx-relay collector',
      version: VERSION,
      description:
        'Attribution server for Microsoft Advertising server-side conversion pixels (sspx). Every refusal is a 4xx with JSON {"error", "message"}; a store outage is a 503 and nothing was stored.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: [
      { name: 'browser', description: 'called by the landing-page script and impression trackers' },
      { name: 'server', description: 'called by site backends and apps, with a key' },
      { name: 'operators', description: 'the outbox, with the admin key' },
      { name: 'dashboard', description: 'the operators\' HTML pages, behind a session' },
      { name: 'monitoring', description: 'open, like any health endpoint; /metrics needs the admin key unless metrics_public' },
    ],
    paths,
    components,
  });
}

/** the document as committed: two-space indent and a final newline */
export const openApiText = () => `${JSON.stringify(openApiDocument(), null, 2)}\n`;

export function openApiRoutes(): Router {
  const router = Router();
  let text: string | undefined;
  router.get('/openapi.json', (_req, res) => {
    text ??= openApiText();
    res.set({ 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'public, max-age=300', 'Access-Control-Allow-Origin': '*' }).send(text);
  });
  return router;
}
