output "deployer_url" {
  value = module.deployer.url
}

output "registry" {
  value = module.registry.url
}

output "service_accounts" {
  value = module.identities.emails
}

output "workload_identity_provider" {
  description = "For google-github-actions/auth: workload_identity_provider."
  value       = module.ci.workload_identity_provider
}

output "pipelines" {
  value = { for name, p in module.pipeline : name => { staging = p.staging_url, live = p.live_url } }
}
