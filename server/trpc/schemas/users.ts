import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, PASSWORD_RULE } from '../../auth/passwords';

export const ZRole = z.enum(['viewer', 'operator', 'admin']);

export const ZUsername = z
  .string()
  .trim()
  .min(1, 'Enter a username')
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, 'Use letters, digits and . _ @ -, starting with a letter or digit');

/** Length and the other rules (PASSWORD_RULE) are checked by the service, which names the field. */
export const ZNewPassword = z
  .string()
  .max(PASSWORD_MAX_LENGTH)
  .meta({ description: `The new password: ${PASSWORD_RULE}` });

export const ZUser = z
  .object({
    id: z.string(),
    username: z.string(),
    role: ZRole,
    disabled: z.boolean(),
    disabledAt: z.string().nullable(),
    createdAt: z.string(),
    lastLoginAt: z.string().nullable(),
    hasPassword: z.boolean().meta({
      description: 'False for someone created with a one-time link who has not chosen a password yet',
    }),
    singleSignOn: z.boolean().meta({
      description: 'Signs in through the OpenID provider: no password here, the role follows their groups',
    }),
    activeSessions: z.number().int(),
  })
  .meta({ id: 'User' });

export const ZPasswordLink = z
  .object({
    token: z.string().meta({ description: 'The secret: shown this once, only its hash is stored' }),
    path: z.string().meta({ description: 'Open it on the console: /set-password?token=…' }),
    expiresAt: z.string(),
  })
  .meta({ id: 'PasswordLink' });

export const ZUserWithLink = z
  .object({
    user: ZUser,
    passwordLink: ZPasswordLink.nullable().meta({
      description: 'A one-time set-password link, when no password was given',
    }),
  })
  .meta({ id: 'UserWithPasswordLink' });
