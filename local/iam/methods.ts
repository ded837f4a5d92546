// Which permission each method the local cloud serves requires, and on which resource, as
// Google's API references state it. A method is named by its API's service name and the method
// name Cloud Audit Logs records for it: the full RPC name for gRPC/REST APIs
// (`google.cloud.run.v2.Services.GetService`), the JSON API's method id for Cloud Storage
// (`storage.objects.insert`), and Artifact Registry's `Docker-…` names for the Docker protocol.
// Two surfaces have no such name and carry `http:` keys: calling a Cloud Run service's URL
// (`http:invoke`) and a Workflows callback URL (`http:callback`).

/**
 * The resource a permission is checked on, named by the caller (policy.ts's `authorize`):
 * - `resource`: the resource the request names (its `name`; for a create, the new resource),
 * - `parent`: the collection's parent (a list or create: `projects/P/locations/L`),
 * - `project`: the project, taken from the resource name,
 * - `topic`: the topic a subscription attaches to,
 * - `serviceAccount`: the account the resource will run as or sign with
 *   (`projects/-/serviceAccounts/EMAIL`); its check is skipped when the request names none,
 *   so a caller passes the default account where Google would act as it.
 */
export type Target = 'resource' | 'parent' | 'project' | 'topic' | 'serviceAccount';

/** Request facts that change which permission a method needs. */
export interface RequestFlags {
  /** RunJob with overrides (args, env, task count or timeout). */
  overrides?: boolean;
}

export interface PermissionCheck {
  permission: string;
  on: Target;
  /** Only when this flag is set (RunJob with overrides needs run.jobs.runWithOverrides). */
  if?: keyof RequestFlags;
  /** Only when this flag is not set. */
  unless?: keyof RequestFlags;
}

export interface MethodRule {
  checks: readonly PermissionCheck[];
}

const on = (
  permission: string,
  target: Target = 'resource',
  extra: Partial<PermissionCheck> = {},
) => ({
  permission,
  on: target,
  ...extra,
});
const rule = (...checks: PermissionCheck[]): MethodRule => ({ checks });
const actAs = on('iam.serviceAccounts.actAs', 'serviceAccount');

const RUN = 'google.cloud.run.v2';
const RUN_V1 = 'google.cloud.run.v1';
const EXECUTIONS = 'google.cloud.workflows.executions.v1.Executions';
const WORKFLOWS = 'google.cloud.workflows.v1.Workflows';
const AR = 'google.devtools.artifactregistry.v1.ArtifactRegistry';
const BUILD = 'google.devtools.cloudbuild.v1.CloudBuild';
const SCHEDULER = 'google.cloud.scheduler.v1.CloudScheduler';
const OPERATIONS = 'google.longrunning.Operations';

/** service name -> method name -> the permissions it requires. */
export const METHODS: Readonly<Record<string, Readonly<Record<string, MethodRule>>>> = {
  'run.googleapis.com': {
    [`${RUN}.Services.CreateService`]: rule(on('run.services.create', 'parent'), actAs),
    [`${RUN}.Services.GetService`]: rule(on('run.services.get')),
    [`${RUN}.Services.ListServices`]: rule(on('run.services.list', 'parent')),
    [`${RUN}.Services.UpdateService`]: rule(on('run.services.update'), actAs),
    [`${RUN}.Services.DeleteService`]: rule(on('run.services.delete')),
    [`${RUN}.Services.GetIamPolicy`]: rule(on('run.services.getIamPolicy')),
    [`${RUN}.Services.SetIamPolicy`]: rule(on('run.services.setIamPolicy')),
    [`${RUN}.Revisions.GetRevision`]: rule(on('run.revisions.get')),
    [`${RUN}.Revisions.ListRevisions`]: rule(on('run.revisions.list', 'parent')),
    [`${RUN}.Revisions.DeleteRevision`]: rule(on('run.revisions.delete')),
    [`${RUN}.Jobs.CreateJob`]: rule(on('run.jobs.create', 'parent'), actAs),
    [`${RUN}.Jobs.GetJob`]: rule(on('run.jobs.get')),
    [`${RUN}.Jobs.ListJobs`]: rule(on('run.jobs.list', 'parent')),
    [`${RUN}.Jobs.UpdateJob`]: rule(on('run.jobs.update'), actAs),
    [`${RUN}.Jobs.DeleteJob`]: rule(on('run.jobs.delete')),
    [`${RUN}.Jobs.RunJob`]: rule(
      on('run.jobs.run', 'resource', { unless: 'overrides' }),
      on('run.jobs.runWithOverrides', 'resource', { if: 'overrides' }),
    ),
    [`${RUN}.Jobs.GetIamPolicy`]: rule(on('run.jobs.getIamPolicy')),
    [`${RUN}.Jobs.SetIamPolicy`]: rule(on('run.jobs.setIamPolicy')),
    [`${RUN}.WorkerPools.CreateWorkerPool`]: rule(on('run.workerpools.create', 'parent'), actAs),
    [`${RUN}.WorkerPools.GetWorkerPool`]: rule(on('run.workerpools.get')),
    [`${RUN}.WorkerPools.ListWorkerPools`]: rule(on('run.workerpools.list', 'parent')),
    [`${RUN}.WorkerPools.UpdateWorkerPool`]: rule(on('run.workerpools.update'), actAs),
    [`${RUN}.WorkerPools.DeleteWorkerPool`]: rule(on('run.workerpools.delete')),
    [`${RUN}.Executions.GetExecution`]: rule(on('run.executions.get')),
    [`${RUN}.Executions.ListExecutions`]: rule(on('run.executions.list', 'parent')),
    [`${RUN}.Executions.DeleteExecution`]: rule(on('run.executions.delete')),
    [`${RUN}.Executions.CancelExecution`]: rule(on('run.executions.cancel')),
    [`${RUN}.Tasks.GetTask`]: rule(on('run.tasks.get')),
    [`${RUN}.Tasks.ListTasks`]: rule(on('run.tasks.list', 'parent')),
    [`${OPERATIONS}.GetOperation`]: rule(on('run.operations.get')),
    [`${OPERATIONS}.ListOperations`]: rule(on('run.operations.list', 'parent')),
    [`${OPERATIONS}.DeleteOperation`]: rule(on('run.operations.delete')),
    [`${OPERATIONS}.WaitOperation`]: rule(on('run.operations.get')),
    // The v1 (Knative) API gcloud run speaks, as its reference states each method's permission.
    // Its configurations and routes are a service's own (checked on the service, api.ts).
    [`${RUN_V1}.Services.ListServices`]: rule(on('run.services.list', 'parent')),
    [`${RUN_V1}.Services.GetService`]: rule(on('run.services.get')),
    [`${RUN_V1}.Services.ReplaceService`]: rule(on('run.services.update'), actAs),
    [`${RUN_V1}.Revisions.ListRevisions`]: rule(on('run.revisions.list', 'parent')),
    [`${RUN_V1}.Revisions.GetRevision`]: rule(on('run.revisions.get')),
    [`${RUN_V1}.Configurations.ListConfigurations`]: rule(on('run.configurations.list', 'parent')),
    [`${RUN_V1}.Configurations.GetConfiguration`]: rule(on('run.configurations.get')),
    [`${RUN_V1}.Routes.ListRoutes`]: rule(on('run.routes.list', 'parent')),
    [`${RUN_V1}.Routes.GetRoute`]: rule(on('run.routes.get')),
    [`${RUN_V1}.Jobs.GetJob`]: rule(on('run.jobs.get')),
    [`${RUN_V1}.Jobs.ReplaceJob`]: rule(on('run.jobs.update'), actAs),
    // Calling a service's URL: roles/run.invoker's permission, checked on the service.
    'http:invoke': rule(on('run.routes.invoke')),
  },
  'workflowexecutions.googleapis.com': {
    // The execution's parent is its workflow.
    [`${EXECUTIONS}.CreateExecution`]: rule(on('workflows.executions.create', 'parent')),
    [`${EXECUTIONS}.GetExecution`]: rule(on('workflows.executions.get')),
    [`${EXECUTIONS}.ListExecutions`]: rule(on('workflows.executions.list', 'parent')),
    [`${EXECUTIONS}.CancelExecution`]: rule(on('workflows.executions.cancel')),
    'google.cloud.workflows.executions.v1.Executions.ListCallbacks': rule(
      on('workflows.callbacks.list', 'parent'),
    ),
    // Answering an execution's callback URL.
    'http:callback': rule(on('workflows.callbacks.send')),
  },
  'workflows.googleapis.com': {
    [`${WORKFLOWS}.GetWorkflow`]: rule(on('workflows.workflows.get')),
    [`${WORKFLOWS}.ListWorkflows`]: rule(on('workflows.workflows.list', 'parent')),
    [`${WORKFLOWS}.CreateWorkflow`]: rule(on('workflows.workflows.create', 'parent'), actAs),
    [`${WORKFLOWS}.UpdateWorkflow`]: rule(on('workflows.workflows.update'), actAs),
    [`${WORKFLOWS}.DeleteWorkflow`]: rule(on('workflows.workflows.delete')),
  },
  'pubsub.googleapis.com': {
    'google.pubsub.v1.Publisher.CreateTopic': rule(on('pubsub.topics.create', 'project')),
    'google.pubsub.v1.Publisher.UpdateTopic': rule(on('pubsub.topics.update')),
    'google.pubsub.v1.Publisher.Publish': rule(on('pubsub.topics.publish')),
    'google.pubsub.v1.Publisher.GetTopic': rule(on('pubsub.topics.get')),
    'google.pubsub.v1.Publisher.ListTopics': rule(on('pubsub.topics.list', 'project')),
    'google.pubsub.v1.Publisher.ListTopicSubscriptions': rule(on('pubsub.topics.get')),
    'google.pubsub.v1.Publisher.DeleteTopic': rule(on('pubsub.topics.delete')),
    // Creating a subscription needs the right on the project and to attach to the topic; a push
    // subscription with an OIDC token acts as the token's account.
    'google.pubsub.v1.Subscriber.CreateSubscription': rule(
      on('pubsub.subscriptions.create', 'project'),
      on('pubsub.topics.attachSubscription', 'topic'),
      actAs,
    ),
    'google.pubsub.v1.Subscriber.GetSubscription': rule(on('pubsub.subscriptions.get')),
    'google.pubsub.v1.Subscriber.UpdateSubscription': rule(
      on('pubsub.subscriptions.update'),
      actAs,
    ),
    'google.pubsub.v1.Subscriber.ListSubscriptions': rule(
      on('pubsub.subscriptions.list', 'project'),
    ),
    'google.pubsub.v1.Subscriber.DeleteSubscription': rule(on('pubsub.subscriptions.delete')),
    'google.pubsub.v1.Subscriber.ModifyPushConfig': rule(on('pubsub.subscriptions.update'), actAs),
    'google.pubsub.v1.Subscriber.Pull': rule(on('pubsub.subscriptions.consume')),
    'google.pubsub.v1.Subscriber.StreamingPull': rule(on('pubsub.subscriptions.consume')),
    'google.pubsub.v1.Subscriber.Acknowledge': rule(on('pubsub.subscriptions.consume')),
    'google.pubsub.v1.Subscriber.ModifyAckDeadline': rule(on('pubsub.subscriptions.consume')),
  },
  'artifactregistry.googleapis.com': {
    [`${AR}.GetRepository`]: rule(on('artifactregistry.repositories.get')),
    [`${AR}.ListRepositories`]: rule(on('artifactregistry.repositories.list', 'parent')),
    [`${AR}.ListPackages`]: rule(on('artifactregistry.packages.list', 'parent')),
    [`${AR}.GetPackage`]: rule(on('artifactregistry.packages.get')),
    [`${AR}.ListTags`]: rule(on('artifactregistry.tags.list', 'parent')),
    [`${AR}.GetTag`]: rule(on('artifactregistry.tags.get')),
    [`${AR}.ListVersions`]: rule(on('artifactregistry.versions.list', 'parent')),
    [`${AR}.GetVersion`]: rule(on('artifactregistry.versions.get')),
    [`${AR}.ListDockerImages`]: rule(on('artifactregistry.dockerimages.list', 'parent')),
    [`${AR}.GetDockerImage`]: rule(on('artifactregistry.dockerimages.get')),
    // The Docker protocol, checked on the repository: pulling downloads, pushing uploads.
    'Docker-GetManifest': rule(on('artifactregistry.repositories.downloadArtifacts')),
    'Docker-HeadManifest': rule(on('artifactregistry.repositories.downloadArtifacts')),
    'Docker-GetBlob': rule(on('artifactregistry.repositories.downloadArtifacts')),
    'Docker-StartUpload': rule(on('artifactregistry.repositories.uploadArtifacts')),
    'Docker-FinishUpload': rule(on('artifactregistry.repositories.uploadArtifacts')),
    'Docker-PutManifest': rule(on('artifactregistry.repositories.uploadArtifacts')),
  },
  'monitoring.googleapis.com': {
    // The resource is the project (or workspace) the request names: projects/P.
    'google.monitoring.v3.MetricService.ListTimeSeries': rule(on('monitoring.timeSeries.list')),
    'google.monitoring.v3.MetricService.CreateTimeSeries': rule(on('monitoring.timeSeries.create')),
    'google.monitoring.v3.MetricService.ListMetricDescriptors': rule(
      on('monitoring.metricDescriptors.list'),
    ),
    'google.monitoring.v3.MetricService.GetMetricDescriptor': rule(
      on('monitoring.metricDescriptors.get'),
    ),
  },
  'cloudbuild.googleapis.com': {
    // A build runs as its serviceAccount: submitting it acts as that account.
    [`${BUILD}.CreateBuild`]: rule(on('cloudbuild.builds.create', 'parent'), actAs),
    [`${BUILD}.GetBuild`]: rule(on('cloudbuild.builds.get')),
    [`${BUILD}.ListBuilds`]: rule(on('cloudbuild.builds.list', 'parent')),
    // Google: cancelling is an update of the build; retrying creates one.
    [`${BUILD}.CancelBuild`]: rule(on('cloudbuild.builds.update')),
    [`${BUILD}.RetryBuild`]: rule(on('cloudbuild.builds.create', 'parent')),
  },
  'cloudscheduler.googleapis.com': {
    [`${SCHEDULER}.ListJobs`]: rule(on('cloudscheduler.jobs.list', 'parent')),
    [`${SCHEDULER}.GetJob`]: rule(on('cloudscheduler.jobs.get')),
    // A job with an OIDC or OAuth token signs as its account.
    [`${SCHEDULER}.CreateJob`]: rule(on('cloudscheduler.jobs.create', 'parent'), actAs),
    [`${SCHEDULER}.UpdateJob`]: rule(on('cloudscheduler.jobs.update'), actAs),
    [`${SCHEDULER}.DeleteJob`]: rule(on('cloudscheduler.jobs.delete')),
    [`${SCHEDULER}.PauseJob`]: rule(on('cloudscheduler.jobs.pause')),
    // Google: resuming is cloudscheduler.jobs.enable.
    [`${SCHEDULER}.ResumeJob`]: rule(on('cloudscheduler.jobs.enable')),
    [`${SCHEDULER}.RunJob`]: rule(on('cloudscheduler.jobs.run')),
  },
  'storage.googleapis.com': {
    // Buckets are projects/_/buckets/B, objects projects/_/buckets/B/objects/O.
    'storage.buckets.get': rule(on('storage.buckets.get')),
    'storage.buckets.insert': rule(on('storage.buckets.create', 'project')),
    'storage.buckets.list': rule(on('storage.buckets.list', 'project')),
    'storage.objects.insert': rule(on('storage.objects.create')),
    'storage.objects.get': rule(on('storage.objects.get')),
    'storage.objects.list': rule(on('storage.objects.list', 'parent')),
    'storage.objects.delete': rule(on('storage.objects.delete')),
  },
  'iamcredentials.googleapis.com': {
    // The resource is the account: projects/-/serviceAccounts/EMAIL.
    'google.iam.credentials.v1.IAMCredentials.GenerateAccessToken': rule(
      on('iam.serviceAccounts.getAccessToken'),
    ),
    'google.iam.credentials.v1.IAMCredentials.GenerateIdToken': rule(
      on('iam.serviceAccounts.getOpenIdToken'),
    ),
    'google.iam.credentials.v1.IAMCredentials.SignBlob': rule(on('iam.serviceAccounts.signBlob')),
    'google.iam.credentials.v1.IAMCredentials.SignJwt': rule(on('iam.serviceAccounts.signJwt')),
  },
  'logging.googleapis.com': {
    'google.logging.v2.LoggingServiceV2.WriteLogEntries': rule(
      on('logging.logEntries.create', 'project'),
    ),
    'google.logging.v2.LoggingServiceV2.ListLogEntries': rule(
      on('logging.logEntries.list', 'project'),
    ),
  },
  'cloudresourcemanager.googleapis.com': {
    'google.cloud.resourcemanager.v3.Projects.GetProject': rule(on('resourcemanager.projects.get')),
  },
};

/** The rule of a served method; an unknown one is a programming error, never an open door. */
export function methodRule(service: string, method: string): MethodRule {
  const r = METHODS[service]?.[method];
  if (!r)
    throw new Error(`IAM: no permission is known for ${service} ${method} (local/iam/methods.ts)`);
  return r;
}

/** The checks a request makes, with RunJob's overrides and the like taken into account. */
export function checksFor(rule: MethodRule, flags: RequestFlags = {}): PermissionCheck[] {
  return rule.checks.filter(
    (c) => (c.if === undefined || flags[c.if]) && (c.unless === undefined || !flags[c.unless]),
  );
}

let required: Set<string> | undefined;

/** Every permission some served method asks for: a role granting none of them is never used. */
export function requiredPermissions(): ReadonlySet<string> {
  required ??= new Set(
    Object.values(METHODS).flatMap((m) =>
      Object.values(m).flatMap((r) => r.checks.map((c) => c.permission)),
    ),
  );
  return required;
}

/** The domain an IAM denial's ErrorInfo names: IAM's own for iam.*, else the API's service. */
export function denialDomain(service: string | undefined, permission: string): string {
  if (permission.startsWith('iam.') || !service) return 'iam.googleapis.com';
  return service;
}
