# The Docker repository images are pushed to; its pushes publish to the topic `gcr`.
variable "project" {
  type = string
}
variable "region" {
  type = string
}
variable "repository" {
  type = string
}

resource "google_artifact_registry_repository" "images" {
  project       = var.project
  location      = var.region
  repository_id = var.repository
  format        = "DOCKER"
  description   = "Images released by runway"
}

output "repository" {
  value = google_artifact_registry_repository.images
}

output "url" {
  value = "${var.region}-docker.pkg.dev/${var.project}/${var.repository}"
}
