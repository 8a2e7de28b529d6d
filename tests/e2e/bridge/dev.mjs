#!/usr/bin/env node
// Runs the TypeScript bridge without a build step, through Vite's module runner.
//   node tests/e2e/bridge/dev.mjs [--fake]      (build the renderer first: npm run build:renderer)
import { runnerImport } from 'vite';

const { module } = await runnerImport(new URL('./dev.ts', import.meta.url).pathname, { configFile: false, logLevel: 'error' });
await module.main(process.argv.slice(2));
