import type { BackgroundJob } from './catalogue';

/** Rebuilds the 1 min rollups of minutes whose 10 s rollups were written since the last run. */
export const minuteRollupsJob: BackgroundJob = {
  name: 'minute-rollups',
  everyMs: 15_000,
  run: async (runtime) => {
    const rebuilt = await runtime.minuteRollups.run();
    return rebuilt > 0 ? `rebuilt ${rebuilt} minute(s)` : undefined;
  },
};
