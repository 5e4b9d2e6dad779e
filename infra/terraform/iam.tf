# Least privilege, one role per resource per line, every grant non-authoritative (_member):
#   runtime SA (pcf-<function>)        what the function's code may touch
#   trigger SA (pcf-<function>-trg)    may only invoke its own function (Eventarc push auth)
#   build SA   (pcf-functions-build)   what Cloud Build needs to turn a zip into an image
#   Pub/Sub service agent               dead-lettering + minting the trigger's OIDC tokens
#   Cloud Scheduler service agent       publishes the daily cleanup message
# No allUsers / allAuthenticatedUsers anywhere; functions are internal-only.

resource "google_service_account" "runtime" {
  for_each = local.functions

  account_id   = local.runtime_account_ids[each.key]
  display_name = "PCF ${each.key} (runtime)"
  description  = "Runtime identity of the ${each.key} function: ${each.value.description}"
}

resource "google_service_account" "trigger" {
  for_each = local.functions

  account_id   = local.trigger_account_ids[each.key]
  display_name = "PCF ${each.key} (trigger)"
  description  = "Eventarc trigger identity that may invoke only the ${each.key} function."
}

resource "google_service_account" "build" {
  account_id   = "pcf-functions-build"
  display_name = "PCF functions build"
  description  = "Cloud Build identity used to build the PCF functions' images."
}

# ---- runtime: BigQuery -------------------------------------------------------------------

# Run query/load/copy jobs (the job runs in the project; data access is per dataset below).
resource "google_project_iam_member" "runtime_bigquery_job_user" {
  for_each = local.functions

  project = var.project
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.runtime[each.key].email}"
}

# Read+write tables only in the datasets the function writes (topology writes_datasets).
resource "google_bigquery_dataset_iam_member" "runtime_data_editor" {
  for_each = local.dataset_writers

  dataset_id = google_bigquery_dataset.dataset[each.value.dataset].dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.runtime[each.value.function].email}"
}

# Read-only on the datasets it only reads (topology reads_datasets minus writes_datasets).
resource "google_bigquery_dataset_iam_member" "runtime_data_viewer" {
  for_each = local.dataset_readers

  dataset_id = google_bigquery_dataset.dataset[each.value.dataset].dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.runtime[each.value.function].email}"
}

# ---- runtime: Pub/Sub ---------------------------------------------------------------------

# Publish only to the topics the function publishes to (topology publishes).
resource "google_pubsub_topic_iam_member" "runtime_publisher" {
  for_each = local.topic_publishers

  topic  = google_pubsub_topic.topic[each.value.topic].name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.runtime[each.value.function].email}"
}

# ---- trigger: invoke its own function only -----------------------------------------------

# Eventarc pushes to the function's Cloud Run service with an OIDC token of the trigger SA.
# (Pub/Sub-sourced triggers need no roles/eventarc.eventReceiver.)
resource "google_cloud_run_v2_service_iam_member" "trigger_invoker" {
  for_each = local.functions

  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.trigger[each.key].email}"
}

# ---- Pub/Sub service agent ------------------------------------------------------------------

# Mint the trigger SA's OIDC token for the authenticated push (needed on projects whose Pub/Sub
# agent predates 2021-04-08; harmless elsewhere). Scoped to each trigger SA, not the project.
resource "google_service_account_iam_member" "pubsub_agent_token_creator" {
  for_each = local.functions

  service_account_id = google_service_account.trigger[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent

  depends_on = [google_pubsub_topic.topic] # the agent exists once Pub/Sub is in use
}

# Forward undeliverable messages to <topic>-dlq.
resource "google_pubsub_topic_iam_member" "pubsub_agent_dlq_publisher" {
  for_each = local.dlq_topics

  topic  = google_pubsub_topic.dlq[each.key].name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

# Acknowledge dead-lettered messages on the source subscription. The Eventarc-owned
# subscriptions of the functions get this grant from infra/deploy.sh (see pubsub.tf).
resource "google_pubsub_subscription_iam_member" "pubsub_agent_alerts_subscriber" {
  subscription = google_pubsub_subscription.alerts.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# ---- Cloud Scheduler service agent -------------------------------------------------------

# Publish the daily {"trigger": "scheduled"} message — to the cleanup topic only.
resource "google_pubsub_topic_iam_member" "scheduler_cleanup_publisher" {
  topic  = google_pubsub_topic.topic[local.schedule.topic].name
  role   = "roles/pubsub.publisher"
  member = local.scheduler_service_agent

  depends_on = [google_project_service.api]
}

# ---- build SA (Cloud Build for gen2 functions) --------------------------------------------

# Write build logs.
resource "google_project_iam_member" "build_log_writer" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

# Push the built image to the gcf-artifacts repository Cloud Functions creates per region.
resource "google_project_iam_member" "build_artifact_writer" {
  project = var.project
  role    = "roles/artifactregistry.writer"
  member  = "serviceAccount:${google_service_account.build.email}"
}

# Read the zipped sources from the source bucket only.
resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}
