import { describe, expect, it } from 'vitest';
import { RETRY_BASE_MS, RETRY_CAP_MS } from '../agent';
import { Backoff } from '../backoff';
import { ServerList, splitServerList } from '../server-list';

describe('the reconnect backoff', () => {
  it('doubles its ceiling from 250 ms up to 10 s, and waits anywhere below it', () => {
    expect([RETRY_BASE_MS, RETRY_CAP_MS]).toEqual([250, 10_000]);
    const highest = new Backoff(RETRY_BASE_MS, RETRY_CAP_MS, () => 0.999_999);
    const ceilings: number[] = [];
    const delays: number[] = [];
    for (let i = 0; i < 9; i++) {
      ceilings.push(highest.ceiling());
      delays.push(highest.next());
    }
    expect(ceilings).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
    expect(delays).toEqual([249, 499, 999, 1999, 3999, 7999, 9999, 9999, 9999]);
    // Full jitter: the wait may be anything down to nothing.
    const lowest = new Backoff(RETRY_BASE_MS, RETRY_CAP_MS, () => 0);
    expect(Array.from({ length: 9 }, () => lowest.next())).toEqual(Array(9).fill(0));
  });

  it('starts from the base again after a success', () => {
    const backoff = new Backoff(250, 10_000, () => 0.5);
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([125, 250, 500]);
    backoff.reset();
    expect(backoff.next()).toBe(125);
  });

  it('stays at the cap however long the failures go on', () => {
    const backoff = new Backoff(250, 10_000, () => 0.5);
    for (let i = 0; i < 10_000; i++) backoff.next();
    expect(backoff.ceiling()).toBe(10_000);
    expect(backoff.next()).toBe(5000);
  });

  it('spreads the reconnects of a whole fleet evenly over the window, not in waves', () => {
    // 10,000 agents lose their server at once. Each one's first and fifth retries fall
    // uniformly over [0, 250 ms) and [0, 4 s): every tenth of the window gets about a tenth.
    for (const failuresBefore of [0, 4]) {
      const delays = Array.from({ length: 10_000 }, () => {
        const backoff = new Backoff(RETRY_BASE_MS, RETRY_CAP_MS);
        for (let i = 0; i < failuresBefore; i++) backoff.next();
        return { ceiling: backoff.ceiling(), delay: backoff.next() };
      });
      const buckets = Array<number>(10).fill(0);
      for (const { ceiling, delay } of delays) {
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(ceiling);
        buckets[Math.floor((delay / ceiling) * 10)]! += 1;
      }
      for (const count of buckets) {
        expect(count).toBeGreaterThan(800);
        expect(count).toBeLessThan(1200);
      }
    }
  });
});

describe('the server list', () => {
  it('splits --server on commas, trimmed, without trailing slashes or repeats', () => {
    expect(splitServerList('http://a:3000')).toEqual(['http://a:3000']);
    expect(splitServerList(' http://a:3000/, http://b:3000 ,,http://a:3000')).toEqual([
      'http://a:3000',
      'http://b:3000',
    ]);
    expect(new ServerList(['http://a:3000/', ' http://b:3000']).urls).toEqual([
      'http://a:3000',
      'http://b:3000',
    ]);
    expect(() => new ServerList(' , ')).toThrow(/no server URL/);
  });

  it('moves to the next server in order, after the last back to the first', () => {
    const list = new ServerList('http://a:3000,http://b:3000,http://c:3000');
    expect(list.current).toBe('http://a:3000');
    expect([list.advance(), list.advance(), list.advance(), list.advance()]).toEqual([
      'http://b:3000',
      'http://c:3000',
      'http://a:3000',
      'http://b:3000',
    ]);
    expect(list.toString()).toBe('http://a:3000,http://b:3000,http://c:3000');
  });

  it('with one server, stays with it', () => {
    const list = new ServerList('http://balancer:3000/');
    expect(list.advance()).toBe('http://balancer:3000');
    expect(list.current).toBe('http://balancer:3000');
    expect(list.size).toBe(1);
  });
});
