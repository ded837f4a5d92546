# One service account per actor, so each holds only what its part of the flow needs:
#   deployer    runs the deployer service; starts release executions, reads images for reconcile
#   push        Pub/Sub signs push requests to the deployer with its OIDC token
#   scheduler   Cloud Scheduler signs /reconcile calls with its OIDC token
#   workflow    the release workflow; deploys staging and live, runs the acceptance job
#   acceptance  the acceptance job's runtime; calls the private staging service
#   app         the runtime of the pipelines' staging and live services
#   ci          GitHub Actions (through Workload Identity Federation) and Cloud Build
variable "project" {
  type = string
}

locals {
  accounts = {
    deployer   = "runway deployer service"
    push       = "runway Pub/Sub push identity"
    scheduler  = "runway Cloud Scheduler identity"
    workflow   = "runway release workflow"
    acceptance = "runway acceptance job"
    app        = "runway pipeline services runtime"
    ci         = "runway CI"
  }
}

resource "google_service_account" "this" {
  for_each     = local.accounts
  project      = var.project
  account_id   = "runway-${each.key}"
  display_name = each.value
}

output "emails" {
  value = { for k, sa in google_service_account.this : k => sa.email }
}

output "ids" {
  value = { for k, sa in google_service_account.this : k => sa.name }
}
