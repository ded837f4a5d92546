# The Google APIs runway uses: Cloud Run (deployer, pipeline services, acceptance job), Workflows
# and its executions, Pub/Sub (events), Artifact Registry (images), Cloud Scheduler (reconcile),
# IAM (service accounts, Workload Identity Federation), IAM credentials (OIDC tokens for pushes
# and scheduler calls), STS (federated token exchange), Monitoring (canary health),
# Cloud Build and Cloud Storage (CI and its source bucket).
variable "project" {
  type = string
}

locals {
  services = toset([
    "run.googleapis.com",
    "workflows.googleapis.com",
    "workflowexecutions.googleapis.com",
    "pubsub.googleapis.com",
    "artifactregistry.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "monitoring.googleapis.com",
    "cloudbuild.googleapis.com",
    "storage.googleapis.com",
    "sts.googleapis.com",
  ])
}

resource "google_project_service" "this" {
  for_each           = local.services
  project            = var.project
  service            = each.value
  disable_on_destroy = false
}

output "enabled" {
  value = [for s in google_project_service.this : s.service]
}
