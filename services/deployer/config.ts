// The deployer's configuration, read once from the environment; a bad value stops startup naming the key.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../shared/errors.ts';
import { type PipelineConfig, parsePipelineConfig } from '../shared/pipeline-config.ts';
import { describeZodError } from '../shared/validation.ts';

const email = z
  .string()
  .regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, { error: 'must be a service account email' });

const envSchema = z
  .object({
    RUNWAY_CONFIG: z.string().min(1).optional(),
    RUNWAY_CONFIG_YAML: z.string().min(1).optional(),
    GOOGLE_CLOUD_PROJECT: z.string().min(1, { error: 'is required' }),
    RUNWAY_REGION: z
      .string()
      .regex(/^[a-z]+(-[a-z]+)+\d+$/, { error: 'must be a region such as us-central1' }),
    RUNWAY_WORKFLOW: z
      .string()
      .regex(/^[a-z][a-z0-9_-]{0,63}$/)
      .default('runway-release'),
    RUNWAY_WORKFLOW_LOCATION: z.string().optional(),
    RUNWAY_PUSH_AUDIENCE: z.string().url().optional(),
    RUNWAY_PUSH_SERVICE_ACCOUNT: email.optional(),
    RUNWAY_ALLOW_UNAUTHENTICATED_PUSH: z.enum(['true', 'false']).default('false'),
    RUNWAY_SCHEDULER_AUDIENCE: z.string().url().optional(),
    RUNWAY_SCHEDULER_SERVICE_ACCOUNT: email.optional(),
    RUNWAY_TOKEN_ISSUER: z.string().url().optional(),
    RUNWAY_TOKEN_CERTS_URL: z.string().url().optional(),
    PUBSUB_EMULATOR_HOST: z.string().optional(),
    WORKFLOWS_EMULATOR_HOST: z.string().optional(),
    RUN_EMULATOR_HOST: z.string().optional(),
    ARTIFACT_REGISTRY_EMULATOR_HOST: z.string().optional(),
    GCE_METADATA_HOST: z.string().optional(),
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'NOTICE', 'WARNING', 'ERROR', 'CRITICAL']).default('INFO'),
  })
  .superRefine((e, ctx) => {
    if (!e.RUNWAY_CONFIG === !e.RUNWAY_CONFIG_YAML) {
      ctx.addIssue({
        code: 'custom',
        path: ['RUNWAY_CONFIG'],
        message: 'set exactly one of RUNWAY_CONFIG (a path) and RUNWAY_CONFIG_YAML (the text)',
      });
    }
    const open = e.RUNWAY_ALLOW_UNAUTHENTICATED_PUSH === 'true';
    // Production can never run open by accident: unauthenticated pushes need an emulator.
    if (open && !e.PUBSUB_EMULATOR_HOST) {
      ctx.addIssue({
        code: 'custom',
        path: ['RUNWAY_ALLOW_UNAUTHENTICATED_PUSH'],
        message: 'is only allowed with PUBSUB_EMULATOR_HOST set (Google’s emulator sends no token)',
      });
    }
    if (!open && (!e.RUNWAY_PUSH_AUDIENCE || !e.RUNWAY_PUSH_SERVICE_ACCOUNT)) {
      ctx.addIssue({
        code: 'custom',
        path: ['RUNWAY_PUSH_AUDIENCE'],
        message:
          'RUNWAY_PUSH_AUDIENCE and RUNWAY_PUSH_SERVICE_ACCOUNT are required to verify push tokens',
      });
    }
    // Another issuer needs its own keys, and other keys belong to another issuer: both or neither.
    if (!e.RUNWAY_TOKEN_ISSUER !== !e.RUNWAY_TOKEN_CERTS_URL) {
      ctx.addIssue({
        code: 'custom',
        path: [e.RUNWAY_TOKEN_ISSUER ? 'RUNWAY_TOKEN_CERTS_URL' : 'RUNWAY_TOKEN_ISSUER'],
        message: 'set both RUNWAY_TOKEN_ISSUER and RUNWAY_TOKEN_CERTS_URL, or neither (Google’s)',
      });
    }
    // Both or neither: half a scheduler identity would silently refuse every reconcile.
    if (!e.RUNWAY_SCHEDULER_AUDIENCE !== !e.RUNWAY_SCHEDULER_SERVICE_ACCOUNT) {
      ctx.addIssue({
        code: 'custom',
        path: [
          e.RUNWAY_SCHEDULER_AUDIENCE
            ? 'RUNWAY_SCHEDULER_SERVICE_ACCOUNT'
            : 'RUNWAY_SCHEDULER_AUDIENCE',
        ],
        message:
          'set both RUNWAY_SCHEDULER_AUDIENCE and RUNWAY_SCHEDULER_SERVICE_ACCOUNT, or neither',
      });
    }
  });

/**
 * Who may call /reconcile: Cloud Scheduler's identity when configured; nobody checks in emulator
 * mode (as for pushes); otherwise the route is disabled rather than open.
 */
export type SchedulerAuth =
  | { audience: string; serviceAccount: string }
  | 'unauthenticated'
  | 'disabled';

export interface DeployerConfig {
  project: string;
  region: string;
  workflow: string;
  workflowLocation: string;
  pipelines: PipelineConfig;
  push: { audience: string; serviceAccount: string } | 'unauthenticated';
  scheduler: SchedulerAuth;
  /** Who signs the tokens the deployer accepts: Google unless both are set (the local cloud's issuer). */
  tokens: { issuers?: string[]; certsUrl?: string };
  workflowsEmulatorHost?: string;
  runEmulatorHost?: string;
  artifactRegistryEmulatorHost?: string;
  /** Where events are published instead of Google's Pub/Sub. */
  pubsubEmulatorHost?: string;
  /**
   * A metadata server other than Google's (the local cloud's): the emulators are then called with
   * the deployer's own tokens from it, not a fake one, so their IAM checks see its account.
   */
  metadataHost?: string;
  port: number;
  logLevel: z.output<typeof envSchema>['LOG_LEVEL'];
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): DeployerConfig {
  const r = envSchema.safeParse(env);
  if (!r.success) throw new ConfigError(`invalid configuration: ${describeZodError(r.error)}`);
  const e = r.data;
  let text = e.RUNWAY_CONFIG_YAML;
  if (e.RUNWAY_CONFIG) {
    try {
      text = readFileSync(e.RUNWAY_CONFIG, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `RUNWAY_CONFIG: cannot read ${e.RUNWAY_CONFIG}: ${(err as Error).message}`,
      );
    }
  }
  const pipelines = parsePipelineConfig(text!, e.RUNWAY_CONFIG ?? 'RUNWAY_CONFIG_YAML');
  return {
    project: pipelines.project ?? e.GOOGLE_CLOUD_PROJECT,
    region: e.RUNWAY_REGION,
    workflow: e.RUNWAY_WORKFLOW,
    workflowLocation: e.RUNWAY_WORKFLOW_LOCATION ?? e.RUNWAY_REGION,
    pipelines,
    push:
      e.RUNWAY_ALLOW_UNAUTHENTICATED_PUSH === 'true'
        ? 'unauthenticated'
        : { audience: e.RUNWAY_PUSH_AUDIENCE!, serviceAccount: e.RUNWAY_PUSH_SERVICE_ACCOUNT! },
    scheduler:
      e.RUNWAY_SCHEDULER_AUDIENCE && e.RUNWAY_SCHEDULER_SERVICE_ACCOUNT
        ? {
            audience: e.RUNWAY_SCHEDULER_AUDIENCE,
            serviceAccount: e.RUNWAY_SCHEDULER_SERVICE_ACCOUNT,
          }
        : e.RUNWAY_ALLOW_UNAUTHENTICATED_PUSH === 'true'
          ? 'unauthenticated'
          : 'disabled',
    tokens:
      e.RUNWAY_TOKEN_ISSUER && e.RUNWAY_TOKEN_CERTS_URL
        ? { issuers: [e.RUNWAY_TOKEN_ISSUER], certsUrl: e.RUNWAY_TOKEN_CERTS_URL }
        : {},
    ...(e.WORKFLOWS_EMULATOR_HOST ? { workflowsEmulatorHost: e.WORKFLOWS_EMULATOR_HOST } : {}),
    ...(e.RUN_EMULATOR_HOST ? { runEmulatorHost: e.RUN_EMULATOR_HOST } : {}),
    ...(e.ARTIFACT_REGISTRY_EMULATOR_HOST
      ? { artifactRegistryEmulatorHost: e.ARTIFACT_REGISTRY_EMULATOR_HOST }
      : {}),
    ...(e.PUBSUB_EMULATOR_HOST ? { pubsubEmulatorHost: e.PUBSUB_EMULATOR_HOST } : {}),
    ...(e.GCE_METADATA_HOST ? { metadataHost: e.GCE_METADATA_HOST } : {}),
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
  };
}
