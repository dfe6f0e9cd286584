import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Env } from '../env';

/**
 * Headers every response carries (pages, API, 404s, assets), set in one place before
 * routing. Next.js App Router pages need inline scripts (their bootstrap) and recharts
 * inline styles; the browser talks to this origin only (tRPC over fetch, socket.io over
 * ws/wss on the same host).
 */
export function createSecurityHeaders(env: Pick<Env, 'NODE_ENV' | 'SWITCHYARD_SECURE_COOKIES'>) {
  const dev = env.NODE_ENV === 'development';
  const fixed: Record<string, string> = {
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
    'cross-origin-opener-policy': 'same-origin',
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=()',
  };
  // Only behind HTTPS: HSTS over plain HTTP would lock browsers out of a test install.
  if (env.SWITCHYARD_SECURE_COOKIES === 'true') {
    fixed['strict-transport-security'] = 'max-age=31536000; includeSubDomains';
  }

  return (req: IncomingMessage, res: ServerResponse, pathname: string): void => {
    for (const [name, value] of Object.entries(fixed)) res.setHeader(name, value);
    res.setHeader('content-security-policy', contentSecurityPolicy(req.headers.host, dev));
    // Content-hashed build assets hold no one's data and may be cached anywhere; every
    // other answer may be made with a session or a token, so no cache keeps it.
    if (!pathname.startsWith('/_next/static/')) pinHeader(res, 'cache-control', 'no-store');
  };
}

/** The same headers for socket.io's own HTTP answers (engine.io `headers` event). */
export function addSocketHeaders(headers: Record<string, string>): void {
  headers['x-content-type-options'] = 'nosniff';
  headers['x-frame-options'] = 'DENY';
  headers['cache-control'] = 'no-store';
}

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

export function contentSecurityPolicy(host: string | undefined, dev: boolean): string {
  // 'self' covers ws: and wss: to this host in current browsers; naming them keeps older
  // ones working. A Host header that is not a plain host name adds nothing.
  const sockets = host && HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    `script-src 'self' 'unsafe-inline'${dev ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${sockets}${dev ? ' ws: wss:' : ''}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * Makes `name: value` the header the response is sent with, whatever a handler sets later
 * (Next.js sets its own Cache-Control on pages). Every send goes through writeHead, also
 * an implicit one, so that is where it is applied.
 */
function pinHeader(res: ServerResponse, name: string, value: string): void {
  const writeHead = res.writeHead;
  res.writeHead = function pinned(this: ServerResponse, ...args: unknown[]) {
    for (const arg of args) {
      if (Array.isArray(arg)) dropFromRawHeaders(arg, name);
      else if (arg && typeof arg === 'object') dropFromHeaders(arg as OutgoingHttpHeaders, name);
    }
    if (!this.headersSent) this.setHeader(name, value);
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}

function dropFromHeaders(headers: OutgoingHttpHeaders, name: string): void {
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name) delete headers[key];
}

/** writeHead also takes `[name, value, name, value, …]`. */
function dropFromRawHeaders(raw: unknown[], name: string): void {
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    if (typeof raw[i] === 'string' && (raw[i] as string).toLowerCase() === name) raw.splice(i, 2);
  }
}
