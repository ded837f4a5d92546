variable "project" {
  description = "The Google Cloud project runway runs in."
  type        = string
}

variable "project_number" {
  description = "Its number (for the Pub/Sub service agent)."
  type        = string
}

variable "region" {
  type    = string
  default = "us-central1"
}

variable "repository" {
  description = "Artifact Registry repository for the images runway releases and its own."
  type        = string
  default     = "apps"
}

variable "github_repository" {
  description = "owner/name of the GitHub repository allowed to deploy runway."
  type        = string
}

variable "deployer_image" {
  description = "First deployer image by digest; CI updates it afterwards."
  type        = string
}

variable "acceptance_image" {
  description = "First acceptance job image by digest; CI updates it afterwards."
  type        = string
}

variable "config_file" {
  description = "runway.yaml with the pipelines."
  type        = string
  default     = "../../../runway.yaml"
}

variable "pipelines" {
  description = "The service pipelines of runway.yaml: their services (and their regions) and acceptance job."
  type = map(object({
    staging_service = string
    live_service    = string
    acceptance_job  = string
    live_public     = optional(bool, false)
    # Overrides deletion_protection for this pipeline's live service (false before removing it).
    live_deletion_protection = optional(bool)
    # runway.yaml's live.regions and staging.regions: a service of the same name in each region.
    # Empty: var.region only.
    live_regions    = optional(list(string), [])
    staging_regions = optional(list(string), [])
  }))
}

variable "job_pipelines" {
  description = "The job pipelines of runway.yaml (kind: job): their staging and live jobs, and the acceptance job if any."
  type = map(object({
    staging_job    = string
    live_job       = string
    acceptance_job = optional(string)
    # Overrides deletion_protection for this pipeline's live job (false before removing it).
    live_deletion_protection = optional(bool)
  }))
  default = {}
}

variable "worker_pool_pipelines" {
  description = "The worker pool pipelines (kind: workerPool) of runway.yaml: their pools."
  type = map(object({
    staging_pool = string
    live_pool    = string
    # Overrides deletion_protection for this pipeline's live pool (false before removing it).
    live_deletion_protection = optional(bool)
  }))
  default = {}
}

variable "deletion_protection" {
  description = "Keep terraform destroy and apply from deleting the release workflow, the deployer and each live service (provider 6.x protects them by default). Staging services and acceptance jobs are never protected. Set false and apply before destroying."
  type        = bool
  default     = true
}

variable "canary_metrics" {
  description = "Whether any pipeline sets promotion.health (the workflow then reads Cloud Monitoring)."
  type        = bool
  default     = false
}
