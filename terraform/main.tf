provider "google" {
  project = var.project_id
  region  = var.region
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
}

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  project_number = data.google_project.this.number

  # Pub/Sub's Google-managed identity: it encrypts the topics with the CMEK key (kms.tf).
  pubsub_service_agent = "serviceAccount:service-${local.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
  # The BigQuery Data Transfer Service's identity: it starts the scheduled compaction as the compaction
  # account (compaction.tf).
  datatransfer_service_agent = "serviceAccount:service-${local.project_number}@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com"

  labels = merge({ app = "olist-realtime-orders" }, var.labels)

  bigquery_location    = coalesce(var.bigquery_location, var.region)
  bucket_name          = coalesce(var.bucket_name, "${var.project_id}-orders-dataflow")
  template_bucket_name = coalesce(var.template_bucket_name, "${var.project_id}-orders-templates")
  temp_location        = "gs://${google_storage_bucket.dataflow.name}/tmp"
  staging_location     = "gs://${google_storage_bucket.dataflow.name}/staging"

  cmek_enabled = var.kms_key_name != null
  # The for_each of every CMEK block (datasets, tables, bucket): the one key, or nothing.
  cmek_keys = local.cmek_enabled ? [var.kms_key_name] : []

  required_apis = concat(
    [
      "artifactregistry.googleapis.com",
      "bigquery.googleapis.com",
      "bigquerydatatransfer.googleapis.com",
      "cloudbuild.googleapis.com",
      "compute.googleapis.com",
      "dataflow.googleapis.com",
      "iam.googleapis.com",
      "iamcredentials.googleapis.com", # impersonating the replay account (replay.tf)
      "pubsub.googleapis.com",
      "storage.googleapis.com",
    ],
    local.cmek_enabled ? ["cloudkms.googleapis.com"] : [],
  )
}

resource "google_project_service" "enabled" {
  for_each = var.enable_apis ? toset(local.required_apis) : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# Service agents appear lazily; create them now so the IAM grants below never name a missing account.
resource "google_project_service_identity" "agents" {
  provider = google-beta
  for_each = toset([
    "artifactregistry.googleapis.com",
    "bigquerydatatransfer.googleapis.com",
    "dataflow.googleapis.com",
    "pubsub.googleapis.com",
  ])

  project = var.project_id
  service = each.value

  depends_on = [google_project_service.enabled]
}
