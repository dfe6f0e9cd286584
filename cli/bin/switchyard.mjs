#!/usr/bin/env node
// The CLI is TypeScript run through tsx, like the rest of Switchyard; commander and tsx come
// from the Switchyard project it lives in.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
