import { CliError, EXIT, type ExitCode } from './errors';

/**
 * Where the server is and how to authenticate: flags first, then the environment. `cookie` is
 * a console session (admin commands sign in as a person: API tokens never reach admin actions).
 */
export type ApiConfig = { url: string; token: string | undefined; cookie?: string };

export const DEFAULT_URL = 'http://localhost:3000';
const API_PREFIX = '/api/v1';

type ErrorBody = { message?: string; code?: string; data?: { details?: Record<string, unknown> | null } };

/** HTTP status → exit code; see errors.ts. */
function exitCodeFor(status: number): ExitCode {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status >= 500) return EXIT.unavailable;
  return EXIT.usage;
}

/** A small client of the REST API: JSON in, JSON out, every failure a CliError. */
export class ApiClient {
  readonly baseUrl: string;

  constructor(private readonly config: ApiConfig) {
    this.baseUrl = `${config.url.replace(/\/+$/, '')}${API_PREFIX}`;
  }

  get<T>(path: string, query?: Record<string, string | number | boolean | undefined>): Promise<T> {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) params.set(key, String(value));
    }
    const search = params.size > 0 ? `?${params}` : '';
    return this.request<T>('GET', `${path}${search}`);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.config.cookie) {
      headers.cookie = this.config.cookie;
      // A change made with a session must name this server as its origin, as a browser does.
      headers.origin = new URL(this.config.url).origin;
    } else if (this.config.token) headers.authorization = `Bearer ${this.config.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (error as Error).message;
      throw new CliError(
        `cannot reach Switchyard at ${this.config.url} (${why}); check --url or SWITCHYARD_URL`,
        EXIT.unavailable,
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.ok) {
      if (parsed === undefined && text !== '') {
        throw new CliError(
          `${method} ${path}: the server answered something that is not JSON`,
          EXIT.unavailable,
        );
      }
      return parsed as T;
    }
    const error = (parsed ?? {}) as ErrorBody;
    let message = error.message ?? `${res.status} ${res.statusText}`;
    if (res.status === 401 && !this.config.token) message += ' (set SWITCHYARD_TOKEN or pass --token)';
    const details = error.data?.details ?? undefined;
    throw new CliError(message, exitCodeFor(res.status), {
      status: res.status,
      code: error.code ?? null,
      ...(details ? { details } : {}),
    });
  }
}

/**
 * Signs in as a person (tRPC `auth.login`, as the console does) and returns a client that
 * speaks /api/v1 with that session; `signOut` ends the session.
 */
export async function signIn(
  url: string,
  username: string,
  password: string,
): Promise<{ api: ApiClient; signOut: () => Promise<void> }> {
  const base = url.replace(/\/+$/, '');
  const origin = new URL(url).origin;
  const post = (procedure: string, body: unknown, cookie?: string) =>
    fetch(`${base}/api/trpc/${procedure}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin, ...(cookie ? { cookie } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
  let res: Response;
  try {
    res = await post('auth.login', { username, password });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(
      `cannot reach Switchyard at ${url} (${cause?.code ?? cause?.message ?? (error as Error).message})`,
      EXIT.unavailable,
    );
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    throw new CliError(
      `signing in as ${username}: ${body.error?.message ?? `${res.status} ${res.statusText}`}`,
      exitCodeFor(res.status),
    );
  }
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (!cookie) throw new CliError('signing in: the server set no session cookie', EXIT.unavailable);
  return {
    api: new ApiClient({ url, token: undefined, cookie }),
    signOut: async () => {
      await post('auth.logout', {}, cookie).catch(() => undefined);
    },
  };
}
