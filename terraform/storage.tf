# Dataflow's staging (job packages) and temp (shuffle/load scratch): the worker account writes here. The flex
# template spec lives in its own bucket (below), which that account can only read.
resource "google_storage_bucket" "dataflow" {
  project       = var.project_id
  name          = local.bucket_name
  location      = var.region
  storage_class = "STANDARD"
  force_destroy = var.bucket_force_destroy
  labels        = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # Versioning (with the purge rule below) recovers an overwritten staged file; soft delete would only bill
  # again for the same scratch files, and Beam warns about it on temp/staging buckets.
  versioning {
    enabled = true
  }

  soft_delete_policy {
    retention_duration_seconds = 0
  }

  lifecycle_rule {
    condition {
      age            = var.temp_retention_days
      matches_prefix = ["tmp/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  dynamic "logging" {
    for_each = var.access_log_bucket == null ? [] : [var.access_log_bucket]
    content {
      log_bucket        = logging.value
      log_object_prefix = local.bucket_name
    }
  }

  dynamic "encryption" {
    for_each = local.cmek_keys
    content {
      default_kms_key_name = encryption.value
    }
  }

  depends_on = [google_project_service.enabled, google_kms_crypto_key_iam_member.service_agents]
}

# Flex template specs, written by whoever builds the template (`gcloud dataflow flex-template build`, run by
# the deployer, see README.md). The worker account, which the launcher VM runs as, only reads them
# (objectViewer, iam.tf): a job cannot rewrite the spec the next launch starts from. Same privacy, versioning,
# logging and CMEK settings as the Dataflow bucket.
resource "google_storage_bucket" "templates" {
  project       = var.project_id
  name          = local.template_bucket_name
  location      = var.region
  storage_class = "STANDARD"
  force_destroy = var.bucket_force_destroy
  labels        = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # Versioning (with the purge rule below) recovers an overwritten or deleted template spec.
  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_retention_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  dynamic "logging" {
    for_each = var.access_log_bucket == null ? [] : [var.access_log_bucket]
    content {
      log_bucket        = logging.value
      log_object_prefix = local.template_bucket_name
    }
  }

  dynamic "encryption" {
    for_each = local.cmek_keys
    content {
      default_kms_key_name = encryption.value
    }
  }

  depends_on = [google_project_service.enabled, google_kms_crypto_key_iam_member.service_agents]
}
