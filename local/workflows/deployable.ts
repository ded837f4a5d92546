// A workflow as it is deployed: its YAML's data as compact JSON, without comments or layout.
// Google counts a workflow's source against 128 KB as sent; release.yaml's comments and
// indentation are a third of it. Terraform deploys the same form
// (`jsonencode(yamldecode(file(...)))` in infra/modules/workflow), so what runs locally is what
// Google is sent. Workflows reads JSON sources as it reads YAML.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

/** The JSON Google is sent for the YAML (or JSON) workflow at `path` (workflows/release.yaml). */
export function deployableFile(path: string | URL): string {
  return JSON.stringify(parse(readFileSync(path, 'utf8'), { maxAliasCount: 0 }));
}
