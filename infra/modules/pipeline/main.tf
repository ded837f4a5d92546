# One pipeline of runway.yaml: its staging and live services and its acceptance job, created here
# so that every right the release workflow holds is on exactly these resources. The workflow
# deploys new revisions and moves traffic; Terraform ignores those changes. Staging is private:
# only the acceptance job may call it. A pipeline that names regions (runway.yaml's live.regions,
# staging.regions) has its service in each of them, and the rights on each; its acceptance job
# stays in var.region.
variable "project" {
  type = string
}
variable "region" {
  type = string
}
variable "accounts" {
  type = map(string)
}
variable "staging_service" {
  type = string
}
variable "live_service" {
  type = string
}
variable "acceptance_job" {
  type = string
}
variable "acceptance_image" {
  type = string
}
variable "live_deletion_protection" {
  description = "Keep Terraform from deleting the live service (provider 6.x's default). Set false and apply before removing the pipeline."
  type        = bool
  default     = true
}
variable "live_public" {
  description = "Let anyone call the live service (a public website or API). Staging never is."
  type        = bool
  default     = false
}
variable "live_regions" {
  description = "The regions of the live service (runway.yaml's live.regions), one service of the same name in each; empty: [var.region]."
  type        = list(string)
  default     = []
}
variable "staging_regions" {
  description = "The regions of the staging service (runway.yaml's staging.regions); empty: [var.region]."
  type        = list(string)
  default     = []
}

locals {
  # A placeholder until the first release deploys the pipeline's image.
  placeholder = "us-docker.pkg.dev/cloudrun/container/hello"

  # One region of each keeps the single-region address (google_cloud_run_v2_service.staging,
  # .live): var.region when it is among the named ones, else the first named. The other regions'
  # services are *_regional, keyed by region, so naming regions adds resources and moves none.
  staging_regions = coalescelist(var.staging_regions, [var.region])
  live_regions    = coalescelist(var.live_regions, [var.region])
  staging_home    = contains(local.staging_regions, var.region) ? var.region : local.staging_regions[0]
  live_home       = contains(local.live_regions, var.region) ? var.region : local.live_regions[0]
  staging_others  = setsubtract(local.staging_regions, [local.staging_home])
  live_others     = setsubtract(local.live_regions, [local.live_home])

  # The other regions' services, as the grants on both kinds iterate them.
  regional = merge(
    { for r, s in google_cloud_run_v2_service.staging_regional : "staging/${r}" => { name = s.name, location = s.location } },
    { for r, s in google_cloud_run_v2_service.live_regional : "live/${r}" => { name = s.name, location = s.location } },
  )
}

resource "google_cloud_run_v2_service" "staging" {
  project  = var.project
  location = local.staging_home
  name     = var.staging_service
  ingress  = "INGRESS_TRAFFIC_ALL"
  # Staging holds nothing a release cannot redeploy: removing the pipeline may delete it.
  deletion_protection = false
  template {
    service_account = var.accounts.app
    containers {
      image = local.placeholder
    }
  }
  lifecycle {
    ignore_changes = [template, traffic, annotations, client, client_version]
  }
}

resource "google_cloud_run_v2_service" "live" {
  project  = var.project
  location = local.live_home
  name     = var.live_service
  ingress  = "INGRESS_TRAFFIC_ALL"
  # What users call: protected unless the environment turns it off.
  deletion_protection = var.live_deletion_protection
  template {
    service_account = var.accounts.app
    containers {
      image = local.placeholder
    }
  }
  lifecycle {
    ignore_changes = [template, traffic, annotations, client, client_version]
  }
}

# The same services in the pipeline's other regions, as the release workflow deploys to each.
resource "google_cloud_run_v2_service" "staging_regional" {
  for_each            = local.staging_others
  project             = var.project
  location            = each.key
  name                = var.staging_service
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false
  template {
    service_account = var.accounts.app
    containers {
      image = local.placeholder
    }
  }
  lifecycle {
    ignore_changes = [template, traffic, annotations, client, client_version]
  }
}

resource "google_cloud_run_v2_service" "live_regional" {
  for_each            = local.live_others
  project             = var.project
  location            = each.key
  name                = var.live_service
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = var.live_deletion_protection
  template {
    service_account = var.accounts.app
    containers {
      image = local.placeholder
    }
  }
  lifecycle {
    ignore_changes = [template, traffic, annotations, client, client_version]
  }
}

resource "google_cloud_run_v2_job" "acceptance" {
  project  = var.project
  location = var.region
  name     = var.acceptance_job
  # A test runner: removing the pipeline may delete it.
  deletion_protection = false
  template {
    template {
      service_account = var.accounts.acceptance
      max_retries     = 0
      containers {
        image = var.acceptance_image
      }
    }
  }
  lifecycle {
    # CI updates the image by digest (cloudbuild.yaml).
    ignore_changes = [template[0].template[0].containers[0].image, client, client_version]
  }
}

# The release workflow deploys both services (in each of their regions) and runs the job with
# overrides: on these only.
resource "google_cloud_run_v2_service_iam_member" "workflow_deploys" {
  for_each = { staging = google_cloud_run_v2_service.staging, live = google_cloud_run_v2_service.live }
  project  = var.project
  location = each.value.location
  name     = each.value.name
  role     = "roles/run.developer"
  member   = "serviceAccount:${var.accounts.workflow}"
}

resource "google_cloud_run_v2_service_iam_member" "workflow_deploys_regional" {
  for_each = local.regional
  project  = var.project
  location = each.value.location
  name     = each.value.name
  role     = "roles/run.developer"
  member   = "serviceAccount:${var.accounts.workflow}"
}

resource "google_cloud_run_v2_job_iam_member" "workflow_runs_tests" {
  project  = var.project
  location = var.region
  name     = google_cloud_run_v2_job.acceptance.name
  role     = "roles/run.jobsExecutorWithOverrides"
  member   = "serviceAccount:${var.accounts.workflow}"
}

# Running the job is not following it: roles/run.jobsExecutorWithOverrides holds neither
# run.operations.get nor run.executions.get, and both the workflow's connector and the deployer
# wait on the job's long-running operation for the execution's verdict. Found by running a
# release on the local cloud with IAM on (issue 17): without these, every acceptance stage fails
# with PERMISSION_DENIED on run.operations.get.
resource "google_cloud_run_v2_job_iam_member" "workflow_follows_tests" {
  project  = var.project
  location = var.region
  name     = google_cloud_run_v2_job.acceptance.name
  role     = "roles/run.viewer"
  member   = "serviceAccount:${var.accounts.workflow}"
}

resource "google_cloud_run_v2_job_iam_member" "deployer_follows_verification" {
  project  = var.project
  location = var.region
  name     = google_cloud_run_v2_job.acceptance.name
  role     = "roles/run.viewer"
  member   = "serviceAccount:${var.accounts.deployer}"
}

# The deployer's /reconcile reads live's digest annotation (in each region) and, with verify,
# runs the job.
resource "google_cloud_run_v2_service_iam_member" "deployer_reads_live" {
  project  = var.project
  location = google_cloud_run_v2_service.live.location
  name     = google_cloud_run_v2_service.live.name
  role     = "roles/run.viewer"
  member   = "serviceAccount:${var.accounts.deployer}"
}

resource "google_cloud_run_v2_service_iam_member" "deployer_reads_live_regional" {
  for_each = google_cloud_run_v2_service.live_regional
  project  = var.project
  location = each.value.location
  name     = each.value.name
  role     = "roles/run.viewer"
  member   = "serviceAccount:${var.accounts.deployer}"
}

resource "google_cloud_run_v2_job_iam_member" "deployer_verifies_live" {
  project  = var.project
  location = var.region
  name     = google_cloud_run_v2_job.acceptance.name
  role     = "roles/run.jobsExecutorWithOverrides"
  member   = "serviceAccount:${var.accounts.deployer}"
}

# The acceptance job calls staging (private) with its ID token, and live when verifying, in each
# region.
resource "google_cloud_run_v2_service_iam_member" "acceptance_calls" {
  for_each = { staging = google_cloud_run_v2_service.staging, live = google_cloud_run_v2_service.live }
  project  = var.project
  location = each.value.location
  name     = each.value.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.accounts.acceptance}"
}

resource "google_cloud_run_v2_service_iam_member" "acceptance_calls_regional" {
  for_each = local.regional
  project  = var.project
  location = each.value.location
  name     = each.value.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${var.accounts.acceptance}"
}

resource "google_cloud_run_v2_service_iam_member" "live_public" {
  count    = var.live_public ? 1 : 0
  project  = var.project
  location = google_cloud_run_v2_service.live.location
  name     = google_cloud_run_v2_service.live.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "live_public_regional" {
  for_each = { for r, s in google_cloud_run_v2_service.live_regional : r => s if var.live_public }
  project  = var.project
  location = each.value.location
  name     = each.value.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

output "staging_url" {
  value = google_cloud_run_v2_service.staging.uri
}

output "live_url" {
  value = google_cloud_run_v2_service.live.uri
}

# Each region's URL, var.region's (or the first named) among them.
output "staging_urls" {
  value = merge(
    { (local.staging_home) = google_cloud_run_v2_service.staging.uri },
    { for r, s in google_cloud_run_v2_service.staging_regional : r => s.uri },
  )
}

output "live_urls" {
  value = merge(
    { (local.live_home) = google_cloud_run_v2_service.live.uri },
    { for r, s in google_cloud_run_v2_service.live_regional : r => s.uri },
  )
}
