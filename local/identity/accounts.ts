// runway's own accounts, named as infra/ names them: what each part of the local cloud runs as,
// and the audience of the deployer's tokens. No imports: the CLI reads these too.

/** The roles of infra/modules/identities. */
export type RunwayRole = 'deployer' | 'push' | 'scheduler' | 'workflow' | 'acceptance' | 'app';

/** `runway-ROLE@PROJECT.iam.gserviceaccount.com`, as infra/modules/identities creates them. */
export function runwayAccount(project: string, role: RunwayRole): string {
  return `runway-${role}@${project}.iam.gserviceaccount.com`;
}

/** The deployer's token audience, fixed before its URL exists (infra/modules/deployer). */
export function deployerAudience(project: string): string {
  return `https://runway-deployer.${project}.invalid`;
}
