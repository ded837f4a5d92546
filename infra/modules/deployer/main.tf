# The deployer: a Cloud Run service reachable only from inside Google (Pub/Sub push, Cloud
# Scheduler) and only with a token of the push or scheduler identity. Never public.
variable "project" {
  type = string
}
variable "region" {
  type = string
}
variable "image" {
  description = "The deployer image by digest; CI updates it (cloudbuild.yaml)."
  type        = string
}
variable "accounts" {
  type = map(string)
}
variable "config_yaml" {
  description = "runway.yaml, passed to the deployer as RUNWAY_CONFIG_YAML."
  type        = string
}
variable "workflow" {
  type = string
}
variable "deletion_protection" {
  description = "Keep Terraform from deleting the deployer service (provider 6.x's default)."
  type        = bool
  default     = true
}

# The audience of push and scheduler tokens: a fixed custom audience, so it is known before the
# service's URL exists; Cloud Run accepts tokens for it (custom_audiences).
locals {
  audience = "https://runway-deployer.${var.project}.invalid"
}

resource "google_cloud_run_v2_service" "deployer" {
  project          = var.project
  location         = var.region
  name             = "runway-deployer"
  ingress          = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  custom_audiences = [local.audience]
  # Without it pushes go nowhere: protected unless the environment turns it off.
  deletion_protection = var.deletion_protection

  template {
    service_account = var.accounts.deployer
    scaling {
      min_instance_count = 0
      max_instance_count = 10
    }
    containers {
      image = var.image
      # Node sizes V8's heap from this limit (the image passes no heap flags: they would cost every
      # cold start ~45 ms); bench/ measures the deployer under the same limit (scripts/memory-limit.ts).
      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        # More CPU while an instance starts: a cold start is CPU-bound (loading the bundle).
        startup_cpu_boost = true
      }
      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project
      }
      env {
        name  = "RUNWAY_REGION"
        value = var.region
      }
      env {
        name  = "RUNWAY_WORKFLOW"
        value = var.workflow
      }
      env {
        name  = "RUNWAY_CONFIG_YAML"
        value = var.config_yaml
      }
      env {
        name  = "RUNWAY_PUSH_AUDIENCE"
        value = local.audience
      }
      env {
        name  = "RUNWAY_PUSH_SERVICE_ACCOUNT"
        value = var.accounts.push
      }
      env {
        name  = "RUNWAY_SCHEDULER_AUDIENCE"
        value = local.audience
      }
      env {
        name  = "RUNWAY_SCHEDULER_SERVICE_ACCOUNT"
        value = var.accounts.scheduler
      }
    }
  }

  lifecycle {
    # CI deploys new images by digest (cloudbuild.yaml); Terraform owns the rest.
    ignore_changes = [template[0].containers[0].image, client, client_version]
  }
}

# Only the push and scheduler identities may invoke it.
resource "google_cloud_run_v2_service_iam_member" "push_invokes" {
  project  = var.project
  location = var.region
  name     = google_cloud_run_v2_service.deployer.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.accounts.push}"
}

resource "google_cloud_run_v2_service_iam_member" "scheduler_invokes" {
  project  = var.project
  location = var.region
  name     = google_cloud_run_v2_service.deployer.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.accounts.scheduler}"
}

# The deployer starts release executions.
resource "google_project_iam_member" "deployer_starts_releases" {
  project = var.project
  role    = "roles/workflows.invoker"
  member  = "serviceAccount:${var.accounts.deployer}"
}

output "url" {
  value = google_cloud_run_v2_service.deployer.uri
}

output "audience" {
  value = local.audience
}

output "name" {
  value = google_cloud_run_v2_service.deployer.name
}
