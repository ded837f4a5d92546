// The notification Artifact Registry publishes to the topic `gcr` when an image is pushed or deleted:
//   {"action":"INSERT","digest":"HOST/P/R/IMAGE@sha256:…","tag":"HOST/P/R/IMAGE:TAG"}
import { z } from 'zod';
import { type ImageRef, imageName, parseImageRef } from './image-ref.ts';

export const registryActions = ['INSERT', 'DELETE'] as const;

const reference = (kind: 'digest' | 'tag') =>
  z
    .string()
    .max(1024)
    .transform((s, ctx) => {
      try {
        const ref = parseImageRef(s);
        if (kind === 'digest' && !ref.digest) throw new Error('it must end with @sha256:…');
        if (kind === 'tag' && !ref.tag) throw new Error('it must end with :TAG');
        return ref;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });

export const registryNotificationSchema = z
  .object({
    action: z.enum(registryActions, { error: 'action must be INSERT or DELETE' }),
    digest: reference('digest').optional(),
    tag: reference('tag').optional(),
  })
  .superRefine((n, ctx) => {
    if (!n.digest && !n.tag)
      ctx.addIssue({ code: 'custom', message: 'a notification names a digest or a tag' });
    if (n.digest && n.tag && imageName(n.digest) !== imageName(n.tag)) {
      ctx.addIssue({
        code: 'custom',
        path: ['tag'],
        message: 'the tag and the digest name different images',
      });
    }
  });

export interface RegistryNotification {
  action: (typeof registryActions)[number];
  /** The pushed image by digest; absent for a tag-only event. */
  digest?: ImageRef & { digest: string };
  tag?: ImageRef & { tag: string };
}

export function parseRegistryNotification(input: unknown): RegistryNotification {
  return registryNotificationSchema.parse(input) as RegistryNotification;
}
