# One job pipeline of runway.yaml (kind: job): its staging and live Cloud Run jobs, and its
# acceptance job when it has one, created here so that every right the release workflow holds is
# on exactly these jobs. The workflow puts each digest on the jobs' templates and annotations
# (runway.dev/*) and runs staging; Terraform ignores those changes. The jobs run as the app
# account, on which the workflow module grants the workflow act-as.
variable "project" {
  type = string
}
variable "region" {
  type = string
}
variable "accounts" {
  type = map(string)
}
variable "staging_job" {
  type = string
}
variable "live_job" {
  type = string
}
variable "acceptance_job" {
  description = "The job that checks a staging run (given RUNWAY_JOB_EXECUTION), or null for none."
  type        = string
  default     = null
}
variable "live_deletion_protection" {
  description = "Keep Terraform from deleting the live job (provider 6.x's default). Set false and apply before removing the pipeline."
  type        = bool
  default     = true
}

locals {
  # Google's sample job, a placeholder until the first release puts the pipeline's digest on it.
  placeholder = "us-docker.pkg.dev/cloudrun/container/job:latest"
}

resource "google_cloud_run_v2_job" "staging" {
  project  = var.project
  location = var.region
  name     = var.staging_job
  # Staging holds nothing a release cannot redeploy: removing the pipeline may delete it.
  deletion_protection = false
  template {
    template {
      service_account = var.accounts.app
      containers {
        image = local.placeholder
      }
    }
  }
  lifecycle {
    ignore_changes = [template, annotations, client, client_version]
  }
}

resource "google_cloud_run_v2_job" "live" {
  project  = var.project
  location = var.region
  name     = var.live_job
  # The job that does the work: protected unless the environment turns it off.
  deletion_protection = var.live_deletion_protection
  template {
    template {
      service_account = var.accounts.app
      containers {
        image = local.placeholder
      }
    }
  }
  lifecycle {
    ignore_changes = [template, annotations, client, client_version]
  }
}

# Deploy the user's check image to it (gcloud run jobs update --image); Terraform ignores it.
resource "google_cloud_run_v2_job" "acceptance" {
  count    = var.acceptance_job == null ? 0 : 1
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
        image = local.placeholder
      }
    }
  }
  lifecycle {
    ignore_changes = [template, client, client_version]
  }
}

# release_job reads both jobs (jobs.get), creates or updates them (jobs.patch with allowMissing,
# which needs run.jobs.create and run.jobs.update), runs staging with a task count override
# (run.jobs.runWithOverrides) and follows the run's operation and execution (run.operations.get,
# run.executions.get): roles/run.developer holds all of them, granted on these two jobs only.
resource "google_cloud_run_v2_job_iam_member" "workflow_deploys" {
  for_each = { staging = google_cloud_run_v2_job.staging.name, live = google_cloud_run_v2_job.live.name }
  project  = var.project
  location = var.region
  name     = each.value
  role     = "roles/run.developer"
  member   = "serviceAccount:${var.accounts.workflow}"
}

# The acceptance job, as a service pipeline's: run with overrides, and followed.
resource "google_cloud_run_v2_job_iam_member" "workflow_runs_tests" {
  count    = var.acceptance_job == null ? 0 : 1
  project  = var.project
  location = var.region
  name     = google_cloud_run_v2_job.acceptance[0].name
  role     = "roles/run.jobsExecutorWithOverrides"
  member   = "serviceAccount:${var.accounts.workflow}"
}

resource "google_cloud_run_v2_job_iam_member" "workflow_follows_tests" {
  count    = var.acceptance_job == null ? 0 : 1
  project  = var.project
  location = var.region
  name     = google_cloud_run_v2_job.acceptance[0].name
  role     = "roles/run.viewer"
  member   = "serviceAccount:${var.accounts.workflow}"
}

# The deployer's /reconcile reads the live job's runway.dev/digest (and runway.dev/refused).
resource "google_cloud_run_v2_job_iam_member" "deployer_reads_live" {
  project  = var.project
  location = var.region
  name     = google_cloud_run_v2_job.live.name
  role     = "roles/run.viewer"
  member   = "serviceAccount:${var.accounts.deployer}"
}
