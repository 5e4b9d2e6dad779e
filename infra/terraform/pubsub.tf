# Topics from topology.topics, each with a <name>-dlq dead-letter topic and a pull subscription
# on the DLQ so dead letters are kept (and can be inspected / replayed) for up to 7 days.
#
# Delivery policy (topology.delivery), declared here and nowhere else: every function is invoked
# by a push subscription per trigger (topology functions.<fn>.trigger_topic / trigger_topics)
# that retries with exponential backoff 10 s … 600 s, pushes with an OIDC token of the function's
# invoker service account, and dead-letters to <topic>-dlq after 5 delivery attempts. A trigger
# on a dead-letter topic itself ("<key>-dlq") retries but has no dead-letter policy of its own.

resource "google_pubsub_topic" "topic" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption is sufficient for these control messages (dates and run ids, no personal data); CMEK is not a requirement of this product.
  for_each = local.topics

  name   = each.value
  labels = local.labels

  depends_on = [google_project_service.api]
}

resource "google_pubsub_topic" "dlq" {
  #checkov:skip=CKV_GCP_83:Google-managed encryption is sufficient for dead-lettered control messages; CMEK is not a requirement of this product.
  for_each = local.dlq_topics

  name   = each.value
  labels = local.labels

  depends_on = [google_project_service.api]
}

# Pull subscription per DLQ: without a subscription, messages published to a topic are dropped.
resource "google_pubsub_subscription" "dlq" {
  for_each = local.dlq_topics

  name   = "${each.value}-sub"
  topic  = google_pubsub_topic.dlq[each.key].id
  labels = local.labels

  ack_deadline_seconds       = 60
  message_retention_duration = "${var.dead_letter_retention_days * 86400}s"
  retain_acked_messages      = false

  expiration_policy {
    ttl = "" # never expire for inactivity: a quiet DLQ is the normal state
  }
}

# The functions' triggers: one push subscription per (function, trigger).
resource "google_pubsub_subscription" "trigger" {
  for_each = local.trigger_subscriptions

  name   = each.value.name
  topic  = each.value.dlq ? google_pubsub_topic.dlq[each.value.topic_key].id : google_pubsub_topic.topic[each.value.topic_key].id
  labels = merge(local.labels, { function = replace(each.value.function, "_", "-") })

  # The push request waits for the function: the ack deadline covers its timeout (max 600 s).
  ack_deadline_seconds       = local.delivery.ack_deadline_seconds
  message_retention_duration = "604800s" # 7 days to fix a broken function before messages expire

  expiration_policy {
    ttl = "" # never expire for inactivity: a quiet trigger is normal between backfills
  }

  retry_policy {
    minimum_backoff = "${local.delivery.minimum_backoff_seconds}s"
    maximum_backoff = "${local.delivery.maximum_backoff_seconds}s"
  }

  dynamic "dead_letter_policy" {
    for_each = each.value.dlq ? [] : [each.value.topic_key]
    content {
      dead_letter_topic     = google_pubsub_topic.dlq[dead_letter_policy.value].id
      max_delivery_attempts = local.delivery.max_delivery_attempts
    }
  }

  push_config {
    # Wrapped push body ({"message": {...}, "subscription": ...}); the path names the topic so
    # functions-framework sets the CloudEvent source to //pubsub.googleapis.com/projects/<p>/topics/<t>.
    push_endpoint = "${google_cloudfunctions2_function.function[each.value.function].service_config[0].uri}/projects/${var.project}/topics/${each.value.dlq ? local.dlq_topics[each.value.topic_key] : local.topics[each.value.topic_key]}"

    oidc_token {
      service_account_email = google_service_account.invoker[each.value.function].email
      audience              = google_cloudfunctions2_function.function[each.value.function].service_config[0].uri
    }
  }

  # The invoker may call the function, and the Pub/Sub agent may mint its token and dead-letter,
  # before the first message is pushed.
  depends_on = [
    google_cloud_run_v2_service_iam_member.invoker,
    google_pubsub_topic_iam_member.pubsub_agent_dlq_publisher,
    time_sleep.invoker_propagation,
  ]
}

# Alerts (blocked/failed dates, refused/failed cleanups) are published to pcf-alerts and have
# no function behind them: this pull subscription keeps them for operators and integrations.
resource "google_pubsub_subscription" "alerts" {
  name   = "${local.topics["alerts"]}-sub"
  topic  = google_pubsub_topic.topic["alerts"].id
  labels = local.labels

  ack_deadline_seconds       = local.delivery.ack_deadline_seconds
  message_retention_duration = "${var.dead_letter_retention_days * 86400}s"

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "${local.delivery.minimum_backoff_seconds}s"
    maximum_backoff = "${local.delivery.maximum_backoff_seconds}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dlq["alerts"].id
    max_delivery_attempts = local.delivery.max_delivery_attempts
  }
}
