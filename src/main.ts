#!/usr/bin/env node
import { Command, Option } from 'commander';
import pino from 'pino';
import { z } from 'zod';
import { APPLIER_MODE_ENV, ConfigError, ConfigSchema, flagName, loadConfig, envName } from './config';
import { registerSimulate } from './sim/cli';
import { LOG_REDACT } from './api/auth';

const program = new Command();
program.name('wattplace').description('Energy-aware placement for OpenStack Nova and Kubernetes').showHelpAfterError();

const serve = program
  .command('serve')
  .description('run the gRPC and HTTP service (telemetry in memory; --store influx persists it to InfluxDB)')
  .option('--config <file>', 'YAML or JSON config file');
for (const [key, def] of Object.entries(ConfigSchema.shape)) {
  if (key === 'applier') continue; // a section of the config file; its mode has a flag of its own
  const d = (def as { description?: string }).description;
  // Booleans take an optional value: `--insecure` alone means true, `--insecure false` also works.
  const inner = (def as unknown as { def: { innerType?: unknown } }).def.innerType ?? def;
  const arg = inner instanceof z.ZodBoolean ? '[value]' : '<value>';
  serve.addOption(new Option(`--${flagName(key)} ${arg}`, `${d ?? key} (env ${envName(key)})`));
}
serve.addOption(new Option('--applier-mode <value>', `applier: off, dry-run or on (config file applier.mode; env ${APPLIER_MODE_ENV})`));
serve.action(async (opts: Record<string, string>) => {
  let cfg;
  const { parseApplierConfig } = await import('./applier/config.js');
  try {
    const { config, ...flags } = opts;
    cfg = loadConfig({ file: config, env: process.env, flags });
    parseApplierConfig(cfg.applier); // a bad applier section is a start-up error naming its key
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`wattplace: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = pino({ level: cfg.logLevel, redact: LOG_REDACT });
  let server;
  try {
    // loaded here so that other subcommands (simulate) do not pay for the server's modules
    const { startServer } = await import('./server.js');
    server = await startServer(cfg, { log });
  } catch (e) {
    // A configuration problem found at start-up (security files, loopback rule): the message, no stack.
    if (e instanceof ConfigError) log.fatal({ reason: e.message }, 'start-up failed: configuration');
    else log.fatal({ err: e }, 'start-up failed');
    process.stderr.write(`wattplace: ${(e as Error).message}\n`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  }
  const shutdown = (sig: string) => {
    log.info({ signal: sig }, 'shutting down');
    server.stop().then(
      () => process.exit(0),
      (e) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
});

registerSimulate(program);

program.parseAsync(process.argv).catch((e) => {
  process.stderr.write(`wattplace: ${(e as Error).message}\n`);
  process.exit(1);
});
