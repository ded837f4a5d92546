# CI without keys: GitHub Actions exchanges its OIDC token through Workload Identity Federation
# for the CI account, restricted to one repository. The CI account pushes images, updates the
# deployer and the acceptance jobs by digest (acting as their runtime accounts), and deploys the
# release workflow (as the workflow account).
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

output "workload_identity_provider" {
  value = google_iam_workload_identity_pool_provider.github.name
}
