/** Runs in every test file (vitest setupFiles): no server a file started outlives it, on failure too. */
import { afterAll } from 'vitest';
import { stopAllRegistries } from './registry.js';

afterAll(stopAllRegistries);
