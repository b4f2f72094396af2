# The identity of the Dataflow workers (and of the flex template launcher). Least privilege: two project
# roles that only exist at project level, everything else on the one resource it needs. No keys: Dataflow
# uses the account through its metadata server.
resource "google_service_account" "dataflow_worker" {
  project      = var.project_id
  account_id   = var.service_account_id
  display_name = "Orders streaming pipeline (Dataflow worker)"
  description  = "Runs the orders streaming job: reads ${var.subscription_name}, dead-letters to ${var.dead_letter_topic_name}, upserts into ${var.dataset_id}."

  depends_on = [google_project_service.enabled]
}

locals {
  worker_member = "serviceAccount:${google_service_account.dataflow_worker.email}"
}

resource "google_project_iam_member" "dataflow_worker" {
  for_each = toset([
    "roles/dataflow.worker",  # lease work items, report progress, write logs and metrics
    "roles/bigquery.jobUser", # run the sink's MERGE query jobs (billed to this project)
  ])

  project = var.project_id
  role    = each.value
  member  = local.worker_member
}

resource "google_pubsub_subscription_iam_member" "worker_subscription" {
  for_each = toset([
    "roles/pubsub.subscriber", # pull and ack
    "roles/pubsub.viewer",     # Dataflow reads the subscription's settings before pulling
  ])

  project      = var.project_id
  subscription = google_pubsub_subscription.pipeline.name
  role         = each.value
  member       = local.worker_member
}

resource "google_pubsub_topic_iam_member" "worker_dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.topics["dead_letter"].name
  role    = "roles/pubsub.publisher"
  member  = local.worker_member
}

resource "google_bigquery_dataset_iam_member" "worker_data_editor" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.datasets["orders"].dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = local.worker_member
}

resource "google_storage_bucket_iam_member" "worker_bucket" {
  for_each = toset([
    "roles/storage.objectAdmin",        # write and clean up staging/temp files
    "roles/storage.legacyBucketReader", # storage.buckets.get: Beam inspects the bucket at launch
  ])

  bucket = google_storage_bucket.dataflow.name
  role   = each.value
  member = local.worker_member
}

# Read-only on the template bucket: the launcher VM (running as this account) reads the spec, and nothing
# the job runs can overwrite it. Who builds the template writes there with their own identity.
resource "google_storage_bucket_iam_member" "worker_template_reader" {
  bucket = google_storage_bucket.templates.name
  role   = "roles/storage.objectViewer"
  member = local.worker_member
}

resource "google_artifact_registry_repository_iam_member" "worker_image_reader" {
  project    = var.project_id
  location   = google_artifact_registry_repository.flex_templates.location
  repository = google_artifact_registry_repository.flex_templates.name
  role       = "roles/artifactregistry.reader"
  member     = local.worker_member
}

# Who may start jobs that run as the worker account (actAs), granted on that account only.
resource "google_service_account_iam_member" "job_launchers" {
  for_each = toset(var.job_launcher_members)

  service_account_id = google_service_account.dataflow_worker.name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}
