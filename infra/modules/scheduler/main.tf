# Cloud Scheduler calls the deployer's /reconcile with an OIDC token of the scheduler identity:
# catches pushes whose events were lost and, with verify, re-tests live.
variable "project" {
  type = string
}
variable "region" {
  type = string
}
variable "accounts" {
  type = map(string)
}
variable "deployer_url" {
  type = string
}
variable "audience" {
  type = string
}
variable "schedule" {
  type    = string
  default = "*/15 * * * *"
}
variable "verify" {
  description = "Re-run the acceptance job against live on each reconcile."
  type        = bool
  default     = false
}

resource "google_cloud_scheduler_job" "reconcile" {
  project   = var.project
  region    = var.region
  name      = "runway-reconcile"
  schedule  = var.schedule
  time_zone = "Etc/UTC"

  http_target {
    http_method = "POST"
    uri         = "${var.deployer_url}/reconcile"
    headers     = { "Content-Type" = "application/json" }
    body        = base64encode(jsonencode({ verify = var.verify }))
    oidc_token {
      service_account_email = var.accounts.scheduler
      audience              = var.audience
    }
  }

  retry_config {
    retry_count          = 3
    min_backoff_duration = "10s"
  }
}
