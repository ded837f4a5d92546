// What a project grants the people who operate releases, for stacks whose tests act as them
// (`--as`, with the issuer's tokens): reading releases and services (roles/viewer) and answering
// gates and starting rollbacks (roles/workflows.invoker: executions.create, callbacks.send).
import type { StackOptions } from '../../local/stack.ts';

export function operatorGrants(members: string[]): NonNullable<StackOptions['grants']> {
  return members.flatMap((member) =>
    ['roles/viewer', 'roles/workflows.invoker'].map((role) => ({ member, role })),
  );
}
