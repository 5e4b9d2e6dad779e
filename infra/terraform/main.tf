# PCF pipeline on Google Cloud. The wiring (topics, functions, delivery policy, schedule) is
# infra/topology.json and the tables are infra/schemas/*.json; the files beside this one turn
# them into resources, one concern per file:
#   pubsub.tf     topics, <topic>-dlq topics, DLQ and alerts subscriptions
#   functions.tf  source bucket + zipped build/<function>/ + the four gen2 functions
#   iam.tf        one runtime and one trigger service account per function, least privilege
#   bigquery.tf   datasets and tables
#   scheduler.tf  the daily cleanup job
#   monitoring.tf log-based metric + alert policies

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
    "eventarc.googleapis.com",
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
