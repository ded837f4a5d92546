# The release workflow with its own account, and the project-level rights it cannot get on a
# single resource: deploying as the pipeline services' runtime account (act-as on exactly that
# account), writing sys.log lines, and reading Cloud Monitoring only when canary thresholds are on.
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
variable "source_file" {
  description = "workflows/release.yaml"
  type        = string
}
variable "deletion_protection" {
  description = "Keep Terraform from deleting the release workflow (provider 6.x's default)."
  type        = bool
  default     = true
}
variable "canary_metrics" {
  description = "Whether a pipeline sets promotion.health (Cloud Monitoring 5xx thresholds)."
  type        = bool
  default     = false
}

resource "google_workflows_workflow" "release" {
  project         = var.project
  region          = var.region
  name            = "runway-release"
  description     = "runway: staging, acceptance tests, promotion or rollback of one image"
  service_account = var.accounts.workflow
  # The YAML's data as JSON, without comments or layout: Google counts a source against 128 KB,
  # and the local cloud deploys the same form (local/workflows/deployable.ts).
  source_contents = jsonencode(yamldecode(file(var.source_file)))
  call_log_level  = "LOG_ERRORS_ONLY"
  # Deleting a workflow cancels its running executions, releases halfway included.
  deletion_protection = var.deletion_protection
}

# Deploying staging and live revisions runs them as the app account: act-as on it alone.
resource "google_service_account_iam_member" "workflow_acts_as_app" {
  service_account_id = var.account_ids.app
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${var.accounts.workflow}"
}

# Running the acceptance job runs it as the acceptance account.
resource "google_service_account_iam_member" "workflow_acts_as_acceptance" {
  service_account_id = var.account_ids.acceptance
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${var.accounts.workflow}"
}

# An abort (or a rollback) of a running release is an execution of this workflow that posts the
# decision to the running one's callback URL as this account: that needs
# workflows.callbacks.send, which only roles/workflows.invoker (or wider) holds among predefined
# roles, and Workflows has no per-workflow IAM. Found by running `runway abort` on the local cloud
# with IAM on (issue 17): without it the decision goes unheard, and the release only stops at its
# next annotation check. A custom role with workflows.callbacks.send alone would be narrower.
resource "google_project_iam_member" "workflow_answers_callbacks" {
  project = var.project
  role    = "roles/workflows.invoker"
  member  = "serviceAccount:${var.accounts.workflow}"
}

resource "google_project_iam_member" "workflow_logs" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${var.accounts.workflow}"
}

resource "google_project_iam_member" "workflow_reads_metrics" {
  count   = var.canary_metrics ? 1 : 0
  project = var.project
  role    = "roles/monitoring.viewer"
  member  = "serviceAccount:${var.accounts.workflow}"
}

output "name" {
  value = google_workflows_workflow.release.name
}
