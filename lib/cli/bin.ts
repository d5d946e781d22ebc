#!/usr/bin/env node
/**
 * The `tls-resumption` command (package `bin`): see `main.ts`.
 *
 * @module
 */
import { main } from './main.ts';

const code = await main(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
if (code !== undefined) process.exitCode = code;
