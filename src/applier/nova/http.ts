import { failed, ok, type Outcome } from '../ports';

/**
 * One JSON-over-HTTP call with a deadline per attempt, bounded retries with
 * exponential back-off, and every expected failure as a value. Used for Nova,
 * Ironic and Keystone (Node's built-in fetch, undici).
 *
 * Retried: connection errors, timeouts and 5xx, at most `retries` more times,
 * waiting `backoffMs * 2^i` (capped at `backoffMaxMs`, with jitter down to half
 * of it so replicas do not retry in step). Not retried: any 4xx (the service
 * answered and refused: repeating the same call will not help). A call that
 * must not run twice (`idempotent: false`) is retried only when the request
 * surely never reached the service (connection refused, no route, connect
 * timeout) or it said 503 (not processed). An answer larger than
 * MAX_BODY_BYTES is a failure at once (the same call would be as large).
 */
export interface HttpPolicy {
  /** Deadline of one attempt, answer body included (ms). */
  readonly timeoutMs: number;
  /** Extra attempts after the first. */
  readonly retries: number;
  readonly backoffMs: number;
  readonly backoffMaxMs: number;
}

export interface HttpCall {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  /** Default true for GET/PUT/DELETE, false for POST. */
  readonly idempotent?: boolean;
  /** Overrides the policy's per-attempt deadline. */
  readonly timeoutMs?: number;
  /** Names the service in reasons, e.g. `Nova`. */
  readonly service: string;
  /** Names the call in reasons (method and path, no query values, no credentials). */
  readonly what: string;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON, or null for an empty body. */
  readonly body: unknown;
}

/** Largest answer read (bytes): a page of 1000 servers in detail is a few MB. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Longest part of a service's message kept in a reason. */
export const REASON_PREFIX = 200;

/** Connection-level failures after which the request was surely not processed. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

type Attempt =
  | { readonly kind: 'answer'; readonly answer: HttpAnswer }
  | { readonly kind: 'error'; readonly reason: string; readonly notSent: boolean; readonly final?: boolean };

export type Sleep = (ms: number) => Promise<void>;
const realSleep: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs the call; the value is any answer below 500 (the caller decides what a
 * 4xx means, e.g. 404 = gone, 401 = renew the token). 5xx after the last try
 * and connection failures are failures (`refused: false`).
 */
export async function httpJson(policy: HttpPolicy, call: HttpCall, sleep: Sleep = realSleep): Promise<Outcome<HttpAnswer>> {
  const idempotent = call.idempotent ?? call.method !== 'POST';
  let last: Outcome<HttpAnswer> = failed(`${call.service} ${call.what}: not tried`);
  for (let attempt = 0; attempt <= policy.retries; attempt++) {
    if (attempt > 0) await sleep(backoffDelay(policy, attempt));
    const a = await once(call, call.timeoutMs ?? policy.timeoutMs);
    if (a.kind === 'answer') {
      const s = a.answer.status;
      if (s < 500) return ok(a.answer);
      last = failed(`${call.service} ${call.what}: ${s} ${serviceMessage(a.answer.body) || 'server error'}`, false, s);
      if (!idempotent && s !== 503) return last;
    } else {
      last = failed(`${call.service} ${call.what}: ${a.reason}`);
      if (a.final || (!idempotent && !a.notSent)) return last;
    }
  }
  return last;
}

/** The wait before retry number `attempt` (1, 2, …): `backoffMs * 2^(attempt-1)`, capped, with jitter down to half. */
export function backoffDelay(policy: HttpPolicy, attempt: number): number {
  const cap = Math.min(policy.backoffMaxMs, policy.backoffMs * 2 ** (attempt - 1));
  return cap / 2 + Math.random() * (cap / 2);
}

async function once(call: HttpCall, timeoutMs: number): Promise<Attempt> {
  const headers: Record<string, string> = { Accept: 'application/json', ...call.headers };
  let body: string | undefined;
  if (call.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(call.body);
  }
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(call.url, { method: call.method, headers, body, signal, redirect: 'error' });
    const text = await readCapped(res);
    if (text === null) return { kind: 'error', reason: `answer larger than ${MAX_BODY_BYTES} bytes`, notSent: false, final: true };
    let parsed: unknown = null;
    if (text.trim()) {
      try {
        parsed = JSON.parse(text);
      } catch {
        // Proxies answer 502/503 in HTML; keep a short prefix as the message.
        parsed = { message: text };
      }
    }
    return { kind: 'answer', answer: { status: res.status, headers: res.headers, body: parsed } };
  } catch (e) {
    if (signal.aborted) return { kind: 'error', reason: `timeout, no answer within ${timeoutMs} ms`, notSent: false };
    const code = errorCode(e);
    return { kind: 'error', reason: `connection failed (${code ?? short(String((e as Error)?.message ?? e))})`, notSent: code !== undefined && NOT_SENT.has(code) };
  }
}

async function readCapped(res: Response): Promise<string | null> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function errorCode(e: unknown): string | undefined {
  // undici wraps the socket error: TypeError('fetch failed', { cause: { code } }).
  let c: unknown = e;
  for (let i = 0; i < 4 && c && typeof c === 'object'; i++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    c = (c as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The message of an OpenStack error body, shortened: Nova answers
 * `{"badRequest": {"code": 400, "message": "…"}}` (the key names the fault),
 * Keystone `{"error": {"code": 401, "title": "…", "message": "…"}}`, Ironic
 * `{"error_message": "{\"faultcode\": \"Client\", \"faultstring\": \"…\", \"debuginfo\": null}"}`
 * (a JSON document inside a string).
 */
export function serviceMessage(body: unknown): string {
  if (!body || typeof body !== 'object') return '';
  const ironic = (body as { error_message?: unknown }).error_message;
  if (typeof ironic === 'string') {
    try {
      const inner = JSON.parse(ironic) as { faultstring?: unknown };
      if (typeof inner?.faultstring === 'string') return short(inner.faultstring);
    } catch {
      // Not JSON: the string is the message.
    }
    return short(ironic);
  }
  const direct = (body as { message?: unknown }).message;
  if (typeof direct === 'string') return short(direct);
  for (const v of Object.values(body as Record<string, unknown>)) {
    if (v && typeof v === 'object' && typeof (v as { message?: unknown }).message === 'string') {
      return short((v as { message: string }).message);
    }
  }
  return '';
}

export function short(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > REASON_PREFIX ? `${t.slice(0, REASON_PREFIX)}…` : t;
}
