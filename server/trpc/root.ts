import { router } from './init';
import { adminRouter } from './routers/admin';
import { allocationRouter } from './routers/allocation';
import { authRouter } from './routers/auth';
import { fleetRouter } from './routers/fleet';
import { stressRouter } from './routers/stress';

export const appRouter = router({
  auth: authRouter,
  fleet: fleetRouter,
  admin: adminRouter,
  allocation: allocationRouter,
  stress: stressRouter,
});

export type AppRouter = typeof appRouter;
