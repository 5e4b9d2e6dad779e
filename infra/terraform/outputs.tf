output "topics" {
  description = "Topic name per topology topic key."
  value       = { for key, topic in google_pubsub_topic.topic : key => topic.name }
}

output "dead_letter_topics" {
  description = "Dead-letter topic name per topology topic key."
  value       = { for key, topic in google_pubsub_topic.dlq : key => topic.name }
}

output "dead_letter_subscriptions" {
  description = "Pull subscription holding the dead letters of each topic (pull to inspect)."
  value       = { for key, sub in google_pubsub_subscription.dlq : key => sub.name }
}

output "alerts_subscription" {
  description = "Pull subscription receiving every Alert message."
  value       = google_pubsub_subscription.alerts.name
}

output "functions" {
  description = "Deployed function per topology function key: name, Cloud Run service and trigger."
  value = {
    for key, fn in google_cloudfunctions2_function.function : key => {
      name    = fn.name
      service = fn.service_config[0].service
      uri     = fn.service_config[0].uri
    }
  }
}

output "trigger_subscriptions" {
  description = "Push subscription per function trigger (<function>/<trigger> => subscription name)."
  value       = { for key, sub in google_pubsub_subscription.trigger : key => sub.name }
}

output "notification_channels" {
  description = "Every notification channel the alert policies notify."
  value       = local.notification_channels
}

output "runtime_service_accounts" {
  description = "Runtime service account email per function."
  value       = { for key, sa in google_service_account.runtime : key => sa.email }
}

output "invoker_service_accounts" {
  description = "Push-subscription (OIDC) service account email per function (may invoke only that function)."
  value       = { for key, sa in google_service_account.invoker : key => sa.email }
}

output "build_service_account" {
  description = "Service account Cloud Build uses to build the functions."
  value       = google_service_account.build.email
}

output "datasets" {
  description = "BigQuery dataset id per dataset key (created here or referenced upstream)."
  value       = local.dataset_ids
}

output "tables" {
  description = "Fully-qualified id of every table Terraform created (the product's own; all of them in a sandbox)."
  value       = { for key, t in google_bigquery_table.table : key => "${var.project}.${t.dataset_id}.${t.table_id}" }
}

output "source_bucket" {
  description = "Bucket holding the zipped function sources."
  value       = google_storage_bucket.source.name
}

output "cleanup_job" {
  description = "Cloud Scheduler job that triggers the daily cleanup."
  value       = google_cloud_scheduler_job.cleanup.name
}

output "function_env" {
  description = "Environment every function runs with (PCF_* settings)."
  value       = local.function_env
}
