locals {
  # The deployment's topics, by role. The key is part of the address (google_pubsub_topic.topics["orders"]):
  # renaming a key destroys and recreates that topic, changing a name variable does too.
  topics = tomap({
    # Publishers send order snapshots here; the pipeline subscription reads it.
    orders = var.topic_name
    # The pipeline publishes every message it rejects here (--dead_letter_topic), as it writes them to
    # the order_events_dead_letter table.
    dead_letter = var.dead_letter_topic_name
  })
}

resource "google_pubsub_topic" "topics" {
  for_each = local.topics

  project                    = var.project_id
  name                       = each.value
  message_retention_duration = var.topic_message_retention_duration
  kms_key_name               = var.kms_key_name
  labels                     = local.labels

  depends_on = [google_project_service.enabled, google_kms_crypto_key_iam_member.service_agents]
}

# The topics were two pasted resources: an existing state moves to the for_each keys, nothing is recreated.
moved {
  from = google_pubsub_topic.orders
  to   = google_pubsub_topic.topics["orders"]
}

moved {
  from = google_pubsub_topic.dead_letter
  to   = google_pubsub_topic.topics["dead_letter"]
}

resource "google_pubsub_subscription" "pipeline" {
  project = var.project_id
  name    = var.subscription_name
  topic   = google_pubsub_topic.topics["orders"].id
  labels  = local.labels

  ack_deadline_seconds       = var.subscription_ack_deadline_seconds
  message_retention_duration = var.subscription_message_retention_duration
  retain_acked_messages      = false
  enable_message_ordering    = var.enable_message_ordering

  # The job reads this subscription for as long as it runs: it must never expire while idle.
  expiration_policy {
    ttl = ""
  }

  # Paces redelivery of what a reader hands back without acking: the local read's un-acked messages after
  # a transient warehouse error, or a lease Dataflow gives up (a worker shutting down). Dataflow never
  # nacks a message its pipeline fails on: it retries that itself.
  retry_policy {
    minimum_backoff = var.retry_minimum_backoff
    maximum_backoff = var.retry_maximum_backoff
  }

  # Deliberately no dead_letter_policy. Dataflow's Pub/Sub read acks a message once its first stage has
  # checkpointed it, and retries failures inside the job, so max_delivery_attempts never sees a poison
  # message; what it would count are Dataflow's internal nacks and expired leases (autoscaling, drain,
  # worker restarts), so it would divert healthy messages to the dead-letter topic, around the warehouse
  # and the dead-letter table. Locally it would dead-letter messages left for redelivery after a transient
  # error, which must never be dead-lettered. Messages the pipeline cannot process are dead-lettered by the
  # pipeline itself: the order_events_dead_letter table, plus the dead-letter topic with --dead_letter_topic.
}

resource "google_pubsub_subscription" "dead_letter" {
  project = var.project_id
  name    = var.dead_letter_subscription_name
  topic   = google_pubsub_topic.topics["dead_letter"].id
  labels  = local.labels

  ack_deadline_seconds       = 60
  message_retention_duration = var.subscription_message_retention_duration

  expiration_policy {
    ttl = ""
  }
}

resource "google_pubsub_topic_iam_member" "publishers" {
  for_each = toset(var.publisher_members)

  project = var.project_id
  topic   = google_pubsub_topic.topics["orders"].name
  role    = "roles/pubsub.publisher"
  member  = each.value
}
