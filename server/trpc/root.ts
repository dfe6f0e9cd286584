import { router } from './init';
import { adminRouter } from './routers/admin';
import { authRouter } from './routers/auth';
import { fleetRouter } from './routers/fleet';

export const appRouter = router({
  auth: authRouter,
  fleet: fleetRouter,
  admin: adminRouter,
});

export type AppRouter = typeof appRouter;
