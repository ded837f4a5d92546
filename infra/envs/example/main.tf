# An example environment: every module wired together for one project. Copy it, set the
# variables (terraform.tfvars.example), `terraform init && terraform apply`; see docs/deploy.md.
terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source = "hashicorp/google"
      # One major version: 6.x defaults (deletion_protection among them) are what this is written
      # for; a new major version must not change the plan unseen.
      version = "~> 6.0"
    }
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

module "apis" {
  source  = "../../modules/apis"
  project = var.project
}

module "identities" {
  source     = "../../modules/identities"
  project    = var.project
  depends_on = [module.apis]
}

module "registry" {
  source     = "../../modules/registry"
  project    = var.project
  region     = var.region
  repository = var.repository
  depends_on = [module.apis]
}

module "workflow" {
  source              = "../../modules/workflow"
  project             = var.project
  region              = var.region
  accounts            = module.identities.emails
  account_ids         = module.identities.ids
  source_file         = "${path.root}/../../../workflows/release.yaml"
  canary_metrics      = var.canary_metrics
  deletion_protection = var.deletion_protection
}

module "deployer" {
  source              = "../../modules/deployer"
  project             = var.project
  region              = var.region
  image               = var.deployer_image
  accounts            = module.identities.emails
  config_yaml         = file(var.config_file)
  workflow            = module.workflow.name
  deletion_protection = var.deletion_protection
}

module "pipeline" {
  source                   = "../../modules/pipeline"
  for_each                 = var.pipelines
  project                  = var.project
  region                   = var.region
  accounts                 = module.identities.emails
  staging_service          = each.value.staging_service
  live_service             = each.value.live_service
  acceptance_job           = each.value.acceptance_job
  acceptance_image         = var.acceptance_image
  live_public              = each.value.live_public
  live_deletion_protection = coalesce(each.value.live_deletion_protection, var.deletion_protection)
  # runway.yaml's live.regions and staging.regions; empty: var.region.
  live_regions    = each.value.live_regions
  staging_regions = each.value.staging_regions
}

# A job pipeline (kind: job in runway.yaml): its staging and live jobs, rights on exactly them.
module "job_pipeline" {
  source                   = "../../modules/job-pipeline"
  for_each                 = var.job_pipelines
  project                  = var.project
  region                   = var.region
  accounts                 = module.identities.emails
  staging_job              = each.value.staging_job
  live_job                 = each.value.live_job
  acceptance_job           = each.value.acceptance_job
  live_deletion_protection = coalesce(each.value.live_deletion_protection, var.deletion_protection)
}

# A worker pool pipeline (kind: workerPool in runway.yaml): its staging and live pools, rights on
# exactly them.
module "worker_pool" {
  source                   = "../../modules/worker-pool"
  for_each                 = var.worker_pool_pipelines
  project                  = var.project
  region                   = var.region
  accounts                 = module.identities.emails
  staging_pool             = each.value.staging_pool
  live_pool                = each.value.live_pool
  live_deletion_protection = coalesce(each.value.live_deletion_protection, var.deletion_protection)
}

module "events" {
  source         = "../../modules/events"
  project        = var.project
  project_number = var.project_number
  accounts       = module.identities.emails
  account_ids    = module.identities.ids
  deployer_url   = module.deployer.url
  audience       = module.deployer.audience
}

module "scheduler" {
  source       = "../../modules/scheduler"
  project      = var.project
  region       = var.region
  accounts     = module.identities.emails
  deployer_url = module.deployer.url
  audience     = module.deployer.audience
}

module "ci" {
  source            = "../../modules/ci"
  project           = var.project
  region            = var.region
  accounts          = module.identities.emails
  account_ids       = module.identities.ids
  github_repository = var.github_repository
  repository        = var.repository
  deployer_service  = module.deployer.name
  acceptance_jobs   = toset([for p in var.pipelines : p.acceptance_job])
}

# /reconcile reads the newest digest of each watched tag.
resource "google_artifact_registry_repository_iam_member" "deployer_reads_images" {
  project    = var.project
  location   = var.region
  repository = module.registry.repository.repository_id
  role       = "roles/artifactregistry.reader"
  member     = "serviceAccount:${module.identities.emails.deployer}"
}
