output "deployer_url" {
  value = module.deployer.url
}

output "registry" {
  value = module.registry.url
}

output "service_accounts" {
  value = module.identities.emails
}

# cloudbuild.yaml names no account (its serviceAccount field takes no substitutions): the command
# passes this one, gcloud builds submit --service-account=...
output "ci_build_service_account" {
  description = "For gcloud builds submit --service-account: the CI account, which the build runs as."
  value       = "projects/${var.project}/serviceAccounts/${module.identities.emails.ci}"
}

output "source_staging_dir" {
  description = "For gcloud builds submit --gcs-source-staging-dir: the bucket Terraform made for it."
  value       = module.ci.source_staging_dir
}

output "workload_identity_provider" {
  description = "For google-github-actions/auth: workload_identity_provider."
  value       = module.ci.workload_identity_provider
}

output "pipelines" {
  value = {
    for name, p in module.pipeline : name => {
      staging = p.staging_url
      live    = p.live_url
      # Every region's, for a pipeline with several (live_regions, staging_regions).
      staging_urls = p.staging_urls
      live_urls    = p.live_urls
    }
  }
}
