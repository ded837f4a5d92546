// The variables that point gcloud and Google's clients at a local cloud: `runway local env` prints
// them for a shell, and the local Cloud Build gives them to every build step, so a step's `gcloud
// run services update` or `gcloud builds log` reaches this machine, never Google.
import { join } from 'node:path';
import type { StackInfo } from './stack.ts';

/** The endpoints a cloud's variables are made from: a stack.json, or a cloud still starting. */
export type CloudEndpoints = Pick<
  StackInfo,
  | 'run'
  | 'workflows'
  | 'pubsub'
  | 'registry'
  | 'monitoring'
  | 'project'
  | 'region'
  | 'home'
  | 'scheduler'
  | 'build'
  | 'storage'
  | 'env'
  | 'gcloudProxy'
>;

/** What gcloud sends as its token: the local cloud accepts any; Google would refuse this one. */
export const LOCAL_TOKEN = 'runway-local-token';

/** gcloud's configuration directory for a stack: `<home>/gcloud`. */
export const gcloudConfigDir = (home: string) => join(home, 'gcloud');

const trailing = (url: string) => (url.endsWith('/') ? url : `${url}/`);
const hostOf = (url: string) => url.replace(/^[a-z]+:\/\//, '').replace(/\/$/, '');

/** The emulator host variables: as the stack recorded them, or (older files) from its endpoints. */
function emulatorHosts(info: CloudEndpoints): Record<string, string> {
  const derived: Record<string, string> = {
    RUN_EMULATOR_HOST: hostOf(info.run),
    WORKFLOWS_EMULATOR_HOST: hostOf(info.workflows),
    PUBSUB_EMULATOR_HOST: hostOf(info.pubsub),
    ARTIFACT_REGISTRY_EMULATOR_HOST: hostOf(info.registry),
    MONITORING_EMULATOR_HOST: hostOf(info.monitoring),
    ...(info.build ? { CLOUDBUILD_EMULATOR_HOST: hostOf(info.build) } : {}),
    // @google-cloud/storage takes a URL here, not a host.
    ...(info.storage ? { STORAGE_EMULATOR_HOST: info.storage.replace(/\/$/, '') } : {}),
  };
  return { ...derived, ...(info.env ?? {}) };
}

/** The variables, in the order printed: gcloud's settings, then the client libraries'. */
export function envVars(info: CloudEndpoints): [string, string][] {
  const overrides: [string, string | undefined][] = [
    ['WORKFLOWEXECUTIONS', info.workflows],
    ['WORKFLOWS', info.workflows],
    ['RUN', info.run],
    ['PUBSUB', info.pubsub],
    ['ARTIFACTREGISTRY', info.registry],
    ['MONITORING', info.monitoring],
    ['CLOUDBUILD', info.build],
    // gcloud reads a CLOUD_LOGGING_ONLY build's log from Cloud Logging's entries.list, which the
    // local Cloud Build answers for build logs (local/build/api.ts).
    ['LOGGING', info.build],
    ['CLOUDSCHEDULER', info.scheduler],
    // gcloud's storage client takes the JSON API's base URL, and finds uploads beside it.
    ['STORAGE', info.storage && `${trailing(info.storage)}storage/v1`],
  ];
  const proxy = info.gcloudProxy ? new URL(info.gcloudProxy) : undefined;
  return [
    ['CLOUDSDK_CONFIG', gcloudConfigDir(info.home)],
    ['CLOUDSDK_CORE_PROJECT', info.project],
    ['CLOUDSDK_AUTH_ACCESS_TOKEN', LOCAL_TOKEN],
    ['CLOUDSDK_CORE_CHECK_GCE_METADATA', 'false'],
    ['CLOUDSDK_RUN_REGION', info.region],
    ['CLOUDSDK_WORKFLOWS_LOCATION', info.region],
    ['CLOUDSDK_ARTIFACTS_LOCATION', info.region],
    ...overrides
      .filter((o): o is [string, string] => typeof o[1] === 'string' && o[1] !== '')
      .map(([api, url]): [string, string] => [
        `CLOUDSDK_API_ENDPOINT_OVERRIDES_${api}`,
        trailing(url),
      ]),
    // gcloud run puts the region in front of its endpoint's host, a name only this proxy knows.
    ...(proxy
      ? ([
          ['CLOUDSDK_PROXY_TYPE', 'http'],
          ['CLOUDSDK_PROXY_ADDRESS', proxy.hostname],
          ['CLOUDSDK_PROXY_PORT', proxy.port],
        ] as [string, string][])
      : []),
    ['GOOGLE_CLOUD_PROJECT', info.project],
    // Google's auth libraries: no probe of a metadata server (Node, Python).
    ['METADATA_SERVER_DETECTION', 'none'],
    ['NO_GCE_CHECK', 'True'],
    ...Object.entries(emulatorHosts(info)),
    ['RUNWAY_HOME', info.home],
  ];
}
