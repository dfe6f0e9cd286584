/** Reported at enrollment and in every inventory, so operators can see which agents need upgrading. */
export const AGENT_VERSION = 'switchyard-agent/0.1.0';
