# Optional CMEK: one key (var.kms_key_name) for the topics, dataset and tables, bucket, image repository
# and the Dataflow job's state. Each Google service encrypts with its own service agent, which needs
# encrypt/decrypt on the key before the resource that uses it is created.

data "google_bigquery_default_service_account" "this" {
  count   = local.cmek_enabled && var.manage_kms_key_iam ? 1 : 0
  project = var.project_id

  depends_on = [google_project_service.enabled]
}

data "google_storage_project_service_account" "this" {
  count   = local.cmek_enabled && var.manage_kms_key_iam ? 1 : 0
  project = var.project_id

  depends_on = [google_project_service.enabled]
}

locals {
  # Static keys, so for_each is known at plan time even when the emails are not.
  # join() rather than one(): it yields "" instead of null when the data source is off, so this map
  # evaluates cleanly whichever branch the condition picks.
  kms_service_agents = local.cmek_enabled && var.manage_kms_key_iam ? tomap({
    pubsub           = local.pubsub_service_agent
    bigquery         = "serviceAccount:${join("", data.google_bigquery_default_service_account.this[*].email)}"
    storage          = "serviceAccount:${join("", data.google_storage_project_service_account.this[*].email_address)}"
    artifactregistry = "serviceAccount:service-${local.project_number}@gcp-sa-artifactregistry.iam.gserviceaccount.com"
    dataflow         = "serviceAccount:service-${local.project_number}@dataflow-service-producer-prod.iam.gserviceaccount.com"
    compute          = "serviceAccount:service-${local.project_number}@compute-system.iam.gserviceaccount.com"
  }) : tomap({})
}

resource "google_kms_crypto_key_iam_member" "service_agents" {
  for_each = local.kms_service_agents

  crypto_key_id = var.kms_key_name
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = each.value

  depends_on = [google_project_service_identity.agents]
}
