# One worker pool pipeline of runway.yaml (kind: workerPool): its staging and live worker pools,
# created here so that the release workflow's rights are on exactly these pools, as the pipeline
# module does for services. The workflow deploys revisions and moves instance splits; Terraform
# ignores those changes. A pool pipeline's acceptance job, when it has one, is not created here.
variable "project" {
  type = string
}
variable "region" {
  type = string
}
variable "accounts" {
  type = map(string)
}
variable "staging_pool" {
  type = string
}
variable "live_pool" {
  type = string
}
variable "live_deletion_protection" {
  description = "Keep Terraform from deleting the live worker pool. Set false and apply before removing the pipeline."
  type        = bool
  default     = true
}

locals {
  # A placeholder until the first release deploys the pipeline's image.
  placeholder = "us-docker.pkg.dev/cloudrun/container/worker-pool"
  pools = {
    staging = { name = var.staging_pool, protected = false }
    live    = { name = var.live_pool, protected = var.live_deletion_protection }
  }
}

resource "google_cloud_run_v2_worker_pool" "pool" {
  for_each = local.pools
  project  = var.project
  location = var.region
  name     = each.value.name
  # Staging holds nothing a release cannot redeploy; live follows the environment's setting.
  deletion_protection = each.value.protected
  template {
    service_account = var.accounts.app
    containers {
      image = local.placeholder
    }
  }
  lifecycle {
    ignore_changes = [template, instance_splits, annotations, client, client_version]
  }
}

# The release workflow reads the pools, patches them (template, instance splits, its annotations)
# and reads their revisions' health: roles/run.developer, as Cloud Run documents for managing a
# worker pool and its revisions, on these two only.
resource "google_cloud_run_v2_worker_pool_iam_member" "workflow_deploys" {
  for_each = local.pools
  project  = var.project
  location = var.region
  name     = google_cloud_run_v2_worker_pool.pool[each.key].name
  role     = "roles/run.developer"
  member   = "serviceAccount:${var.accounts.workflow}"
}

output "pools" {
  value = { for k, p in google_cloud_run_v2_worker_pool.pool : k => p.name }
}
