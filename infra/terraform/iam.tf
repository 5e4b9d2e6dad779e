# Least privilege, one role per resource per line, every grant non-authoritative (_member):
#   runtime SA (pcf-<function>)        what the function's code may touch
#   invoker SA (pcf-<function>-inv)    may only invoke its own function (the push subscriptions'
#                                      OIDC identity)
#   build SA   (pcf-functions-build)   the roles Google documents for a gen2 build service account
#   Pub/Sub service agent               dead-lettering + minting the invoker's OIDC tokens
#   Cloud Scheduler service agent       publishes the daily cleanup message
# No allUsers / allAuthenticatedUsers anywhere; functions are internal-only and need a token.

resource "google_service_account" "runtime" {
  for_each = local.functions

  account_id   = local.runtime_account_ids[each.key]
  display_name = "PCF ${each.key} (runtime)"
  description  = "Runtime identity of the ${each.key} function: ${each.value.description}"
}

resource "google_service_account" "invoker" {
  for_each = local.functions

  account_id   = local.invoker_account_ids[each.key]
  display_name = "PCF ${each.key} (invoker)"
  description  = "Push-subscription identity that may invoke only the ${each.key} function."
}

resource "google_service_account" "build" {
  account_id   = "pcf-functions-build"
  display_name = "PCF functions build"
  description  = "Cloud Build identity used to build the PCF functions' images."
}

# ---- runtime: BigQuery -------------------------------------------------------------------

# Run query/load/copy jobs (the job runs in the project; data access is per dataset/table below).
resource "google_project_iam_member" "runtime_bigquery_job_user" {
  for_each = local.functions

  project = var.project
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.runtime[each.key].email}"
}

# Read+write the schema tables the function writes (topology writes_tables) — table level, so
# cleanup_upcoming may touch only the upcoming_* tables in the analytics dataset and
# process_date only player_composite_factors in precompute (never the upstream inputs beside it).
resource "google_bigquery_table_iam_member" "runtime_table_editor" {
  for_each = local.table_writers

  project    = var.project
  dataset_id = local.dataset_ids[each.value.dataset]
  table_id   = each.value.table
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.runtime[each.value.function].email}"

  lifecycle {
    precondition {
      condition     = each.value.function != "cleanup_upcoming" || startswith(each.value.table, "upcoming_") || local.tables[each.value.table].owner == "pcf"
      error_message = "cleanup_upcoming may write only upcoming_* tables and its own run log, not ${each.value.table}."
    }
    precondition {
      condition     = alltrue([for t in var.cleanup_tables : contains(try(local.functions["cleanup_upcoming"].writes_tables, []), t)])
      error_message = "every cleanup_tables entry must be in topology functions.cleanup_upcoming.writes_tables (it gets table-level access there)."
    }
  }

  depends_on = [google_bigquery_table.table, data.google_bigquery_table.upstream]
}

# Read+write whole datasets whose tables are created at run time (staging, backup): writes_datasets
# with no writes_tables in them.
resource "google_bigquery_dataset_iam_member" "runtime_data_editor" {
  for_each = local.dataset_writers

  project    = var.project
  dataset_id = local.dataset_ids[each.value.dataset]
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.runtime[each.value.function].email}"
}

# Read-only on the datasets it reads (topology reads_datasets) unless it edits the whole dataset.
resource "google_bigquery_dataset_iam_member" "runtime_data_viewer" {
  for_each = local.dataset_readers

  project    = var.project
  dataset_id = local.dataset_ids[each.value.dataset]
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

# ---- invoker: invoke its own function only -----------------------------------------------

# The push subscriptions authenticate with an OIDC token of this SA; it may invoke this function's
# Cloud Run service and nothing else.
resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = local.functions

  project  = var.project
  location = var.region
  name     = google_cloudfunctions2_function.function[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.invoker[each.key].email}"
}

# ---- Pub/Sub service agent ------------------------------------------------------------------

# Mint the invoker SA's OIDC token for the authenticated push (needed on projects whose Pub/Sub
# agent predates 2021-04-08; harmless elsewhere). Scoped to each invoker SA, not the project.
resource "google_service_account_iam_member" "pubsub_agent_token_creator" {
  for_each = local.functions

  service_account_id = google_service_account.invoker[each.key].name
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

# Acknowledge a dead-lettered message on its source subscription (every trigger subscription
# with a dead-letter policy, and the alerts subscription).
resource "google_pubsub_subscription_iam_member" "pubsub_agent_trigger_subscriber" {
  for_each = { for key, sub in local.trigger_subscriptions : key => sub if !sub.dlq }

  subscription = google_pubsub_subscription.trigger[each.key].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

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
# The three roles Google documents for a user-specified build service account of a function
# ("Configure the build service account", Cloud Run functions): write build logs, push the image
# to Artifact Registry (gcf-artifacts), and read the function source from the Cloud Storage
# bucket Cloud Functions copies it to (a Google-managed gcf-v2-sources-* bucket, hence project
# level, not only this product's source bucket).

resource "google_project_iam_member" "build_log_writer" {
  project = var.project
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_project_iam_member" "build_artifact_writer" {
  project = var.project
  role    = "roles/artifactregistry.writer"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_project_iam_member" "build_storage_object_admin" {
  project = var.project
  role    = "roles/storage.objectAdmin"
  member  = "serviceAccount:${google_service_account.build.email}"
}

# ---- IAM propagation ------------------------------------------------------------------------
# IAM changes take up to a few minutes to apply everywhere: a build started, or a message pushed,
# right after the grant fails with 403. Functions and push subscriptions wait for this sleep,
# which restarts whenever one of the grants it depends on is (re)created.
resource "time_sleep" "iam_propagation" {
  create_duration = "90s"

  triggers = {
    build_roles = join(",", [
      google_project_iam_member.build_log_writer.id,
      google_project_iam_member.build_artifact_writer.id,
      google_project_iam_member.build_storage_object_admin.id,
    ])
    token_creators = join(",", [for m in google_service_account_iam_member.pubsub_agent_token_creator : m.id])
  }
}

# Invoker grants exist only once the functions do; the subscriptions wait for them separately.
resource "time_sleep" "invoker_propagation" {
  create_duration = "60s"

  triggers = {
    invokers = join(",", [for m in google_cloud_run_v2_service_iam_member.invoker : m.id])
  }
}
