import { router } from './init';
import { adminRouter } from './routers/admin';
import { allocationRouter } from './routers/allocation';
import { auditRouter } from './routers/audit';
import { authRouter } from './routers/auth';
import { clustersRouter } from './routers/clusters';
import { fleetRouter } from './routers/fleet';
import { stressRouter } from './routers/stress';
import { usersRouter } from './routers/users';

export const appRouter = router({
  auth: authRouter,
  fleet: fleetRouter,
  admin: adminRouter,
  allocation: allocationRouter,
  stress: stressRouter,
  users: usersRouter,
  audit: auditRouter,
  clusters: clustersRouter,
});

export type AppRouter = typeof appRouter;
