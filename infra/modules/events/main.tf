# Pub/Sub: Artifact Registry's `gcr` topic, the push subscription that delivers it to the deployer
# with an OIDC token, the dead-letter topic for messages the deployer keeps refusing, and
# `runway-events` where the release workflow reports results.
#
# The `gcr` topic: Artifact Registry publishes to a topic with exactly this name when it exists.
# Terraform manages it; in a project where it already exists, import it first:
#   terraform import module.events.google_pubsub_topic.gcr projects/PROJECT/topics/gcr
variable "project" {
  type = string
}
variable "project_number" {
  type = string
}
variable "accounts" {
  description = "Service account emails by role (identities module)."
  type        = map(string)
}
variable "account_ids" {
  description = "Service account resource names by role (identities module)."
  type        = map(string)
}
variable "deployer_url" {
  type = string
}
variable "audience" {
  description = "The deployer's token audience (deployer module)."
  type        = string
}

locals {
  pubsub_agent = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "gcr" {
  project = var.project
  name    = "gcr"
}

resource "google_pubsub_topic" "dead_letter" {
  project                    = var.project
  name                       = "runway-gcr-dead-letter"
  message_retention_duration = "604800s"
}

resource "google_pubsub_topic" "events" {
  project = var.project
  name    = "runway-events"
}

resource "google_pubsub_subscription" "deployer" {
  project              = var.project
  name                 = "runway-deployer-push"
  topic                = google_pubsub_topic.gcr.id
  ack_deadline_seconds = 30

  push_config {
    push_endpoint = "${var.deployer_url}/pubsub/artifact-registry"
    oidc_token {
      service_account_email = var.accounts.push
      audience              = var.audience
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = 10
  }
}

# Pub/Sub mints the push identity's OIDC tokens.
resource "google_service_account_iam_member" "pubsub_signs_push_tokens" {
  service_account_id = var.account_ids.push
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# Dead-lettering needs the Pub/Sub service agent to publish to the dead-letter topic and to
# acknowledge the message on the source subscription.
resource "google_pubsub_topic_iam_member" "pubsub_dead_letters" {
  project = var.project
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_forwards" {
  project      = var.project
  subscription = google_pubsub_subscription.deployer.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# The release workflow reports each result here (notify.topic in runway.yaml).
resource "google_pubsub_topic_iam_member" "workflow_reports" {
  project = var.project
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${var.accounts.workflow}"
}

# The deployer reports a release a freeze blocked here (release.blocked, services/deployer).
resource "google_pubsub_topic_iam_member" "deployer_reports_blocks" {
  project = var.project
  topic   = google_pubsub_topic.events.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${var.accounts.deployer}"
}

output "events_topic" {
  value = google_pubsub_topic.events.name
}
