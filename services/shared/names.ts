// Naming rules of the Google resources runway names, as zod schemas with messages that say the rule.
import { z } from 'zod';

const resourceName = (what: string, max: number) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, { error: `${what} must not be empty` })
    .max(max, { error: `${what} must be at most ${max} characters` })
    .regex(/^[a-z]([a-z0-9-]*[a-z0-9])?$/, {
      error: `${what} must be lowercase letters, digits and hyphens, start with a letter and not end with a hyphen`,
    });

/** Cloud Run service ids: at most 49 characters so revision names fit. */
export const serviceName = resourceName('a Cloud Run service name', 49);
export const jobName = resourceName('a Cloud Run job name', 63);
export const workerPoolName = resourceName('a Cloud Run worker pool name', 49);
export const pipelineName = resourceName('a pipeline name', 63);

export const projectId = z
  .string({ error: 'a project id must be a string' })
  .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, {
    error: 'a project id is 6 to 30 lowercase letters, digits or hyphens, starting with a letter',
  });

export const region = z
  .string({ error: 'a region must be a string' })
  .regex(/^[a-z]+(?:-[a-z]+)+\d+$/, { error: 'a region looks like us-central1' });

export const topicName = z
  .string({ error: 'a topic name must be a string' })
  .regex(/^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/, {
    error: 'a topic name is 3 to 255 letters, digits or - _ . ~ + %, starting with a letter',
  })
  .refine((t) => !t.toLowerCase().startsWith('goog'), {
    error: 'a topic name must not start with "goog"',
  });

/** A freeze's name: the same rule as a pipeline's, so it reads well in commands and events. */
export const freezeName = resourceName('a freeze name', 63);

/**
 * An IAM principal as IAM policies spell it: user:, group:, serviceAccount: with an email, or
 * domain: with a domain. Emails are compared without case (Google's are case-insensitive).
 */
export const iamMember = z
  .string({ error: 'an IAM member must be a string' })
  .max(320, { error: 'an IAM member must be at most 320 characters' })
  .regex(
    // A single-label domain (user:developer@local) is the local cloud's user; runway only compares
    // these, it never hands them to IAM.
    /^(?:(?:user|group|serviceAccount):[^@\s:]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|domain:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)$/,
    {
      error: 'an IAM member is user:EMAIL, group:EMAIL, serviceAccount:EMAIL or domain:DOMAIN',
    },
  );

/** Who asked: an IAM member, or the automation that did (a push, the scheduled reconcile). */
export const actor = z
  .string({ error: 'must be a string' })
  .refine((s) => s === 'pubsub' || s === 'scheduler' || iamMember.safeParse(s).success, {
    error: 'must be an IAM member (user:EMAIL, serviceAccount:EMAIL, ...), "pubsub" or "scheduler"',
  });
