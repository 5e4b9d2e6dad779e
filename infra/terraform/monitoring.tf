# Every failure reaches a person (RULES §0). Where alerts go: var.notification_channels (at least
# one e-mail / Slack channel / existing channel; validated). What fires them:
#  1. one policy per alert kind (infra/alerts.json = shared/messages.py ALERT_KINDS). App.alert
#     logs each alert as ONE line carrying jsonPayload.alert_kind; the log metric pcf/alerts counts
#     them by that single field, and each kind's policy filters on its label;
#  2. platform signals the code cannot log itself: the scheduler job failing, no successful
#     cleanup in 26 h, an old unacked message on a function's trigger subscription, a message in a
#     dead-letter queue, function 5xx responses and out-of-memory kills.
# infra/README.md has the table of every policy and what fires it.

# ---- notification channels ------------------------------------------------------------------

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.notification_channels.emails)

  display_name = "PCF ${var.environment} alerts: ${each.value}"
  type         = "email"
  labels       = { email_address = each.value }
  user_labels  = local.labels
  force_delete = false

  depends_on = [google_project_service.api]
}

resource "google_monitoring_notification_channel" "slack" {
  for_each = toset(var.notification_channels.slack_channels)

  display_name = "PCF ${var.environment} alerts: Slack ${each.value}"
  type         = "slack"
  labels       = { channel_name = each.value }
  user_labels  = local.labels
  force_delete = false

  sensitive_labels {
    auth_token = var.slack_auth_token
  }

  lifecycle {
    precondition {
      condition     = var.slack_auth_token != null
      error_message = "notification_channels.slack_channels needs slack_auth_token (export TF_VAR_slack_auth_token=<token of the Google Cloud Monitoring Slack app>)."
    }
  }

  depends_on = [google_project_service.api]
}

locals {
  notification_channels = concat(
    var.notification_channels.existing,
    [for c in google_monitoring_notification_channel.email : c.id],
    [for c in google_monitoring_notification_channel.slack : c.id],
  )

  # Gen2 functions run (and log) as their Cloud Run service (name derived from the function name).
  function_services = [
    for fn in keys(local.functions) :
    basename(google_cloudfunctions2_function.function[fn].service_config[0].service)
  ]
  services_filter = "resource.labels.service_name=(${join(" OR ", [for s in local.function_services : "\"${s}\""])})"
  cleanup_service = basename(google_cloudfunctions2_function.function["cleanup_upcoming"].service_config[0].service)

  dlq_subscription_regex = join("|", [for sub in google_pubsub_subscription.dlq : sub.name])
}

# ---- 1. alert kinds: one structured field, one metric, one policy per kind -------------------

resource "google_logging_metric" "alerts" {
  name        = "pcf/alerts"
  description = "PCF alerts raised by the functions, by alert kind (jsonPayload.alert_kind, logged by App.alert)."
  filter      = "resource.type=\"cloud_run_revision\" AND ${local.services_filter} AND jsonPayload.alert_kind:*"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "PCF alerts"

    labels {
      key         = "alert_kind"
      value_type  = "STRING"
      description = "Alert kind (shared/messages.py ALERT_KINDS)."
    }
    labels {
      key         = "service"
      value_type  = "STRING"
      description = "Cloud Run service (function) that raised it."
    }
  }

  label_extractors = {
    alert_kind = "EXTRACT(jsonPayload.alert_kind)"
    service    = "EXTRACT(resource.labels.service_name)"
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "alert_kind" {
  for_each = local.alert_kinds

  display_name          = "PCF ${var.environment}: ${each.value.title} (${each.key})"
  combiner              = "OR"
  severity              = each.value.severity
  notification_channels = local.notification_channels
  user_labels           = merge(local.labels, { alert_kind = each.key })

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      **${each.key}** — ${each.value.fires_when}

      Logs: `jsonPayload.alert_kind="${each.key}"` (fields alert_summary, alert_run_id,
      alert_game_date, alert_table). Alert messages are also on the
      `${local.topics["alerts"]}-sub` subscription.

      What to do: ${each.value.action}
    EOT
  }

  conditions {
    display_name = "${each.key} alerts > 0"

    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.alerts.name}\" AND resource.type=\"cloud_run_revision\" AND metric.label.alert_kind=\"${each.key}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.service"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }
}

# ---- 2a. the scheduler job failed ------------------------------------------------------------

resource "google_monitoring_alert_policy" "scheduler_failed" {
  display_name          = "PCF ${var.environment}: cleanup scheduler job failed"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.notification_channels
  user_labels           = local.labels

  documentation {
    mime_type = "text/markdown"
    content   = "Cloud Scheduler could not publish the daily cleanup message (job `${local.schedule.name}`, after its retries). Check the job's logs and the scheduler agent's publisher grant on `${local.topics[local.schedule.topic]}`; run it by hand with `gcloud scheduler jobs run ${local.schedule.name} --location=${var.region}`."
  }

  conditions {
    display_name = "scheduler attempt finished with an error"

    condition_matched_log {
      filter = "resource.type=\"cloud_scheduler_job\" AND resource.labels.job_id=\"${google_cloud_scheduler_job.cleanup.name}\" AND severity>=ERROR"
    }
  }

  alert_strategy {
    auto_close = "86400s"

    notification_rate_limit {
      period = "3600s"
    }
  }
}

# ---- 2b. no successful cleanup in 26 h (metric absence) ---------------------------------------

# One line per table a cleanup finished cleanly: status clean (nothing stale) or deleted.
resource "google_logging_metric" "cleanup_succeeded" {
  name        = "pcf/cleanup_succeeded"
  description = "Tables the PCF cleanup finished successfully (status clean or deleted)."
  filter      = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${local.cleanup_service}\" AND jsonPayload.table_name:* AND jsonPayload.status=(\"clean\" OR \"deleted\")"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "PCF successful table cleanups"
  }

  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "cleanup_absent" {
  display_name          = "PCF ${var.environment}: no successful cleanup in 26 h"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.notification_channels
  user_labels           = local.labels

  documentation {
    mime_type = "text/markdown"
    content   = "No upcoming_* table was cleaned successfully in the last 26 hours (the job runs daily at ${local.schedule.cron} ${local.schedule.time_zone}). Check the scheduler job, the cleanup function's logs and `cleanup_runs`; refused or failed cleanups also raise their own alert."
  }

  conditions {
    display_name = "pcf/cleanup_succeeded absent for 26 h"

    # A metric-absence condition allows at most 23.5 h; PromQL's absent_over_time covers 26 h.
    condition_prometheus_query_language {
      query               = "absent_over_time(logging_googleapis_com:user_pcf_cleanup_succeeded{monitored_resource=\"cloud_run_revision\"}[26h])"
      duration            = "0s"
      evaluation_interval = "300s"
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_logging_metric.cleanup_succeeded]
}

# ---- 2c. oldest unacked message age, per trigger subscription --------------------------------

resource "google_monitoring_alert_policy" "backlog_age" {
  for_each = local.trigger_subscriptions

  display_name          = "PCF ${var.environment}: ${each.value.function} backlog on ${each.value.name}"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.notification_channels
  user_labels           = merge(local.labels, { function = replace(each.value.function, "_", "-") })

  documentation {
    mime_type = "text/markdown"
    content   = "A message on `${each.value.name}` has waited more than ${var.backlog_age_alert_seconds} s for `${each.value.function}` to acknowledge it: the function is failing (retries with backoff), stuck or at its instance ceiling. Read its logs; messages dead-letter after ${local.delivery.max_delivery_attempts} attempts."
  }

  conditions {
    display_name = "oldest unacked message older than ${var.backlog_age_alert_seconds} s"

    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.trigger[each.key].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.backlog_age_alert_seconds
      duration        = "300s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }
}

# ---- 2d. DLQ depth ------------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name          = "PCF ${var.environment}: messages in a dead-letter queue"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.notification_channels
  user_labels           = local.labels

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      A message exhausted its ${local.delivery.max_delivery_attempts} delivery attempts and was
      dead-lettered to a `<topic>${local.delivery.dlq_suffix}` topic. Pull it from the matching
      `<topic>${local.delivery.dlq_suffix}-sub` subscription
      (`gcloud pubsub subscriptions pull <sub> --limit=10`), read the function's ERROR logs for
      its message id, fix the cause, republish the payload to the original topic, then ack it.
    EOT
  }

  conditions {
    display_name = "undelivered messages on a -dlq subscription > 0"

    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=monitoring.regex.full_match(\"${local.dlq_subscription_regex}\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_MAX"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["resource.label.subscription_id"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  depends_on = [google_project_service.api]
}

# ---- 2e. function 5xx --------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "function_5xx" {
  display_name          = "PCF ${var.environment}: function 5xx responses"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.notification_channels
  user_labels           = local.labels

  documentation {
    mime_type = "text/markdown"
    content   = "A function answered more than ${var.function_5xx_alert_threshold} requests with 5xx in 15 minutes. Every transient failure is one 5xx (the message is redelivered with backoff); many mean BigQuery / Pub/Sub trouble, a crash loop or timeouts. Read the service's ERROR logs."
  }

  conditions {
    display_name = "5xx responses > ${var.function_5xx_alert_threshold} per 15 min"

    condition_threshold {
      filter          = "metric.type=\"run.googleapis.com/request_count\" AND resource.type=\"cloud_run_revision\" AND metric.labels.response_code_class=\"5xx\" AND resource.labels.service_name=monitoring.regex.full_match(\"${join("|", local.function_services)}\")"
      comparison      = "COMPARISON_GT"
      threshold_value = var.function_5xx_alert_threshold
      duration        = "0s"

      aggregations {
        alignment_period     = "900s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["resource.label.service_name"]
      }

      trigger {
        count = 1
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }
}

# ---- 2f. out of memory ---------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "function_oom" {
  display_name          = "PCF ${var.environment}: function out of memory"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.notification_channels
  user_labels           = local.labels

  documentation {
    mime_type = "text/markdown"
    content   = "A function instance exceeded its memory limit and was killed (the message is redelivered, and dead-letters if it keeps happening). Raise the function's memory in infra/topology.json and apply, or find what grew."
  }

  conditions {
    display_name = "memory limit exceeded"

    condition_matched_log {
      filter = "resource.type=\"cloud_run_revision\" AND ${local.services_filter} AND textPayload:\"Memory limit of\" AND textPayload:\"exceeded\""
    }
  }

  alert_strategy {
    auto_close = "86400s"

    notification_rate_limit {
      period = "3600s"
    }
  }
}
