/**
 * The servers an agent talks to, from `--server`: one base URL (behind a load balancer,
 * its address), or several separated by commas, tried in the order given. The agent stays
 * with the server that works and moves to the next one in the list (after the last, the
 * first) only when an attempt there fails.
 */
export class ServerList {
  readonly urls: readonly string[];
  private index = 0;

  constructor(servers: string | readonly string[]) {
    this.urls = typeof servers === 'string' ? splitServerList(servers) : servers.map(normalizeUrl);
    if (this.urls.length === 0) throw new RangeError('no server URL given');
  }

  /** The server to use now. */
  get current(): string {
    return this.urls[this.index] as string;
  }

  get size(): number {
    return this.urls.length;
  }

  /** Moves on to the next server in the list, after the last back to the first; returns it. */
  advance(): string {
    this.index = (this.index + 1) % this.urls.length;
    return this.current;
  }

  /** The list as `--server` takes it (and as credential.json keeps it). */
  toString(): string {
    return this.urls.join(',');
  }
}

function normalizeUrl(url: string): string {
  return url.trim().replace(/\/+$/, '');
}

/** `http://a:3000/, http://b:3000` → ['http://a:3000', 'http://b:3000']: trimmed, deduplicated, in order. */
export function splitServerList(value: string): string[] {
  const urls = value.split(',').map(normalizeUrl).filter(Boolean);
  return [...new Set(urls)];
}
