# The daily TTL cleanup: the single schedule definition is topology.schedule (name, cron,
# time zone, target topic, body, retries). Terraform is the job's only owner (`pcf schedule`
# only shows or runs it).
#
# topology.schedule.attempt_deadline_seconds is deliberately not set here: Cloud Scheduler
# ignores attempt_deadline for Pub/Sub targets (it applies to HTTP / App Engine targets only)
# and the provider documents that setting it on a Pub/Sub job yields a permanent diff. Publishing
# is the whole attempt; the cleanup's own deadline is the function timeout.

resource "google_cloud_scheduler_job" "cleanup" {
  name        = local.schedule.name
  description = local.schedule.description
  region      = var.region
  schedule    = local.schedule.cron
  time_zone   = local.schedule.time_zone

  retry_config {
    retry_count          = local.schedule.retry.retry_count
    min_backoff_duration = "${local.schedule.retry.min_backoff_seconds}s"
    max_backoff_duration = "${local.schedule.retry.max_backoff_seconds}s"
    max_doublings        = local.schedule.retry.max_doublings
  }

  pubsub_target {
    topic_name = google_pubsub_topic.topic[local.schedule.topic].id
    data       = base64encode(jsonencode(local.schedule.body)) # {"trigger":"scheduled"}
  }

  depends_on = [
    google_project_service.api,
    google_pubsub_topic_iam_member.scheduler_cleanup_publisher,
  ]
}
