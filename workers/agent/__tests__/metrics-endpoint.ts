import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP server playing a /metrics endpoint (dcgm-exporter, a model server). Each
 * scrape is answered by `respond`, so a test can change the numbers between scrapes,
 * fail a scrape or restart the "process" behind it.
 */
export class MetricsEndpoint {
  respond: (scrape: number) => { status?: number; body: string } = () => ({ body: '' });
  scrapes = 0;
  private server: Server | null = null;
  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/metrics`;
  }

  /** Serves these texts in turn, repeating the last one. */
  serve(...texts: string[]): void {
    this.respond = (scrape) => ({ body: texts[Math.min(scrape, texts.length - 1)] ?? '' });
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      const { status = 200, body } = this.respond(this.scrapes++);
      res.writeHead(status, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
