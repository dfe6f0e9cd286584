import { describe, expect, it } from 'vitest';
import { clientAddress, LoginThrottle, type ThrottleDecision } from '../login-throttle';

function throttleWithClock() {
  const clock = { now: 1_000_000 };
  const throttle = new LoginThrottle({ now: () => clock.now });
  return { clock, throttle };
}

function fail(decision: ThrottleDecision) {
  if (!decision.admitted) throw new Error(`refused: ${JSON.stringify(decision.refusal)}`);
  return decision.attempt.failed();
}

const alice = { account: 'alice', address: '10.0.0.1' };

describe('LoginThrottle', () => {
  it('lets 5 failures through, then doubles the wait, and locks at the 10th for 15 minutes', () => {
    const { clock, throttle } = throttleWithClock();
    for (let i = 0; i < 5; i++) expect(fail(throttle.begin(alice))).toEqual([]);
    const waits: number[] = [];
    for (let failures = 5; failures < 10; failures++) {
      const refused = throttle.begin(alice);
      expect(refused.admitted).toBe(false);
      if (refused.admitted) return;
      waits.push(refused.refusal.retryAfterSeconds);
      clock.now += refused.refusal.retryAfterSeconds * 1000;
      const locks = fail(throttle.begin(alice));
      expect(locks.length).toBe(failures + 1 === 10 ? 1 : 0);
    }
    expect(waits).toEqual([1, 2, 4, 8, 16]);
    const locked = throttle.begin(alice);
    expect(locked).toMatchObject({ admitted: false, refusal: { scope: 'account', locked: true } });
    if (locked.admitted) return;
    expect(locked.refusal.retryAfterSeconds).toBe(15 * 60);

    // The lock holds for 15 minutes, whatever the password.
    clock.now += 15 * 60_000 - 1000;
    expect(throttle.begin(alice).admitted).toBe(false);
    clock.now += 1000;
    const afterLock = throttle.begin(alice);
    expect(afterLock.admitted).toBe(true);
    // One more failure locks it again at once.
    if (afterLock.admitted)
      expect(afterLock.attempt.failed()).toMatchObject([{ scope: 'account', key: 'alice' }]);
  });

  it('counts parallel attempts before any of them ends', () => {
    const { throttle } = throttleWithClock();
    const decisions = Array.from({ length: 10 }, () => throttle.begin(alice));
    expect(decisions.filter((d) => d.admitted)).toHaveLength(5);
  });

  it('clears the account on success, and leaves other accounts and addresses alone', () => {
    const { throttle } = throttleWithClock();
    for (let i = 0; i < 4; i++) fail(throttle.begin(alice));
    const ok = throttle.begin(alice);
    if (ok.admitted) ok.attempt.succeeded();
    expect(throttle.failures('account', 'alice')).toBe(0);
    expect(throttle.failures('address', alice.address)).toBe(4);
    for (let i = 0; i < 5; i++) fail(throttle.begin(alice));
    expect(throttle.begin(alice).admitted).toBe(false);
    expect(throttle.begin({ account: 'bob', address: alice.address }).admitted).toBe(true);
    expect(throttle.begin({ account: 'ALICE ', address: '10.0.0.2' }).admitted).toBe(false);
  });

  it('throttles an address spraying many accounts: 20 free, locked at 50', () => {
    const { clock, throttle } = throttleWithClock();
    const from = (i: number) => ({ account: `user${i}`, address: '10.0.0.9' });
    for (let i = 0; i < 20; i++) fail(throttle.begin(from(i)));
    const refused = throttle.begin(from(20));
    expect(refused).toMatchObject({ admitted: false, refusal: { scope: 'address', locked: false } });
    let locks: unknown[] = [];
    for (let i = 20; i < 50; i++) {
      const decision = throttle.begin(from(i));
      if (!decision.admitted) clock.now += decision.refusal.retryAfterSeconds * 1000;
      locks = fail(throttle.begin(from(i)));
    }
    expect(locks).toMatchObject([{ scope: 'address', key: '10.0.0.9', failures: 50 }]);
    expect(throttle.begin({ account: 'someone', address: '10.0.0.9' })).toMatchObject({
      admitted: false,
      refusal: { locked: true, retryAfterSeconds: 900 },
    });
    expect(throttle.begin({ account: 'someone', address: '10.0.0.10' }).admitted).toBe(true);
  });

  it('forgets failures an hour after the last one, and an abandoned attempt is not counted', () => {
    const { clock, throttle } = throttleWithClock();
    for (let i = 0; i < 3; i++) fail(throttle.begin(alice));
    const abandoned = throttle.begin(alice);
    if (abandoned.admitted) abandoned.attempt.abandoned();
    expect(throttle.failures('account', 'alice')).toBe(3);
    clock.now += 60 * 60_000 + 1;
    expect(throttle.failures('account', 'alice')).toBe(0);
  });

  it('keeps a bounded number of keys', () => {
    const throttle = new LoginThrottle({ maxKeys: 100 });
    for (let i = 0; i < 1000; i++)
      fail(throttle.begin({ account: `u${i}`, address: `10.0.${i >> 8}.${i & 255}` }));
    expect(throttle.failures('account', 'u0')).toBe(0);
    expect(throttle.failures('account', 'u999')).toBe(1);
  });
});

describe('clientAddress', () => {
  const of = (remoteAddress: string) => clientAddress({ socket: { remoteAddress } } as never);
  it('unmaps IPv4 and groups IPv6 by /64', () => {
    expect(of('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(of('10.1.2.3')).toBe('10.1.2.3');
    expect(of('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(of('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(of('::1')).toBe('0:0:0:0::/64');
  });
});
