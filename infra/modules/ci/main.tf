# CI without keys: GitHub Actions exchanges its OIDC token through Workload Identity Federation
# for the CI account, restricted to one repository. The CI account submits the Cloud Build build
# (cloudbuild.yaml), which runs as the CI account too: it pushes images, updates the deployer and
# the acceptance jobs by digest (acting as their runtime accounts), and deploys the release
# workflow (as the workflow account).
variable "project" {
  type = string
}
variable "region" {
  type = string
}
variable "accounts" {
  type = map(string)
}
variable "account_ids" {
  type = map(string)
}
variable "github_repository" {
  description = "owner/name of the repository whose workflows may deploy"
  type        = string
}
variable "repository" {
  description = "Artifact Registry repository id"
  type        = string
}
variable "deployer_service" {
  type = string
}
variable "acceptance_jobs" {
  type = set(string)
}

resource "google_iam_workload_identity_pool" "github" {
  project                   = var.project
  workload_identity_pool_id = "runway-github"
  display_name              = "GitHub Actions"
}

resource "google_iam_workload_identity_pool_provider" "github" {
  project                            = var.project
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github"
  attribute_mapping = {
    "google.subject"       = "assertion.sub"
    "attribute.repository" = "assertion.repository"
  }
  attribute_condition = "assertion.repository == \"${var.github_repository}\""
  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

resource "google_service_account_iam_member" "github_is_ci" {
  service_account_id = var.account_ids.ci
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${google_iam_workload_identity_pool.github.name}/attribute.repository/${var.github_repository}"
}

resource "google_artifact_registry_repository_iam_member" "ci_pushes" {
  project    = var.project
  location   = var.region
  repository = var.repository
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${var.accounts.ci}"
}

resource "google_cloud_run_v2_service_iam_member" "ci_updates_deployer" {
  project  = var.project
  location = var.region
  name     = var.deployer_service
  role     = "roles/run.developer"
  member   = "serviceAccount:${var.accounts.ci}"
}

resource "google_cloud_run_v2_job_iam_member" "ci_updates_acceptance" {
  for_each = var.acceptance_jobs
  project  = var.project
  location = var.region
  name     = each.value
  role     = "roles/run.developer"
  member   = "serviceAccount:${var.accounts.ci}"
}

# Act-as on exactly the runtime accounts CI deploys as.
resource "google_service_account_iam_member" "ci_acts_as" {
  for_each           = toset(["deployer", "acceptance", "workflow"])
  service_account_id = var.account_ids[each.value]
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${var.accounts.ci}"
}

# Deploying workflows/release.yaml (gcloud workflows deploy) needs the Workflows editor role.
resource "google_project_iam_member" "ci_deploys_workflow" {
  project = var.project
  role    = "roles/workflows.editor"
  member  = "serviceAccount:${var.accounts.ci}"
}

# Submitting builds (cloudbuild.builds.create is granted only on the project).
resource "google_project_iam_member" "ci_submits_builds" {
  project = var.project
  role    = "roles/cloudbuild.builds.editor"
  member  = "serviceAccount:${var.accounts.ci}"
}

# The build runs as the CI account (gcloud builds submit --service-account) with its logs in Cloud
# Logging only (CLOUD_LOGGING_ONLY), which a user-specified build account must be able to write.
resource "google_project_iam_member" "ci_build_logs" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${var.accounts.ci}"
}

# Submitting a build that runs as the CI account acts as it: on that account alone.
resource "google_service_account_iam_member" "ci_builds_as_itself" {
  service_account_id = var.account_ids.ci
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${var.accounts.ci}"
}

# The bucket gcloud builds submit uploads the source to, named as gcloud names its default
# (PROJECT_cloudbuild; ':' and '.' become '_', 'google' becomes 'elgoog'). Terraform owns it so
# that CI needs no right to create buckets, nobody else can take the name first, and staged
# sources expire. If a build was submitted before, the bucket exists; import it:
#   terraform import module.ci.google_storage_bucket.build_source PROJECT_cloudbuild
locals {
  source_bucket = "${replace(replace(replace(var.project, ":", "_"), ".", "_"), "google", "elgoog")}_cloudbuild"
}

resource "google_storage_bucket" "build_source" {
  project                     = var.project
  name                        = local.source_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  # It only holds staged sources.
  force_destroy = true
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
}

# gcloud looks the bucket up (storage.buckets.get) and uploads the source; the build, running as
# the CI account, reads it back. With --gcs-source-staging-dir given, gcloud skips its ownership
# check of the default bucket, which would need storage.buckets.list on the whole project.
resource "google_storage_bucket_iam_member" "ci_finds_source_bucket" {
  bucket = google_storage_bucket.build_source.name
  role   = "roles/storage.legacyBucketReader"
  member = "serviceAccount:${var.accounts.ci}"
}

resource "google_storage_bucket_iam_member" "ci_uploads_source" {
  bucket = google_storage_bucket.build_source.name
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${var.accounts.ci}"
}

resource "google_storage_bucket_iam_member" "ci_build_reads_source" {
  bucket = google_storage_bucket.build_source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${var.accounts.ci}"
}

output "source_staging_dir" {
  description = "For gcloud builds submit --gcs-source-staging-dir."
  value       = "gs://${google_storage_bucket.build_source.name}/source"
}

output "workload_identity_provider" {
  value = google_iam_workload_identity_pool_provider.github.name
}
