# PCF pipeline on Google Cloud. The wiring (topics, functions, delivery policy, schedule) is
# infra/topology.json and the tables are infra/schemas/*.json; the files beside this one turn
# them into resources, one concern per file:
#   pubsub.tf     topics, <topic>-dlq topics, the functions' push subscriptions (retry + DLQ),
#                 DLQ and alerts pull subscriptions
#   functions.tf  source bucket + zipped build/<function>/ + one gen2 function per topology entry
#   iam.tf        runtime and invoker service accounts per function, build SA, least privilege
#   bigquery.tf   the datasets and tables this product owns; upstream ones as data sources
#   scheduler.tf  the daily cleanup job
#   monitoring.tf notification channels, log-based metrics, one alert policy per alert kind and
#                 the platform alerts (scheduler, cleanup absence, backlog age, DLQ, 5xx, OOM)
# Terraform is the only owner of these resources: nothing else creates a function, subscription
# or scheduler job (tests/infra greps infra/ and shared/ for it).

data "google_project" "this" {
  project_id = var.project
}

locals {
  apis = toset([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "api" {
  for_each = var.enable_apis ? local.apis : toset([])

  project            = var.project
  service            = each.value
  disable_on_destroy = false # other workloads in the project may rely on the same APIs
}
