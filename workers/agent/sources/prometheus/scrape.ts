import { Exposition } from './exposition';

export type ScrapeOptions = { timeoutMs?: number; maxBytes?: number };

const ACCEPT = 'text/plain;version=0.0.4;q=1, */*;q=0.1';

/**
 * GETs a /metrics endpoint and parses it. Bounded in time (the whole request, body
 * included) and in size, since a stuck or runaway endpoint must not stall the agent's
 * sampling or fill its memory.
 */
export async function scrape(url: string, options: ScrapeOptions = {}): Promise<Exposition> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  const response = await fetch(url, {
    headers: { accept: ACCEPT },
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'follow',
  }).catch((error: unknown) => {
    if (error instanceof Error && error.name === 'TimeoutError') {
      throw new Error(`no answer within ${timeoutMs} ms`);
    }
    throw error;
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
  }
  if (!response.body) return Exposition.parse('');
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > maxBytes) {
      await reader.cancel();
      throw new Error(`the response is larger than ${maxBytes} bytes`);
    }
    text += decoder.decode(value, { stream: true });
  }
  text += decoder.decode();
  return Exposition.parse(text);
}
