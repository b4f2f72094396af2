locals {
  # One source for every table: the layout in schemas/tables.json, the columns in schemas/bigquery/<table>.json.
  schemas_dir   = "${path.module}/../schemas"
  table_layouts = jsondecode(file("${local.schemas_dir}/tables.json")).tables
  schema_files  = toset([for f in fileset("${local.schemas_dir}/bigquery", "*.json") : trimsuffix(f, ".json")])

  # The SQL Terraform deploys, rendered from beam_pipelines/sinks/compaction_sql.py as templates
  # (`python -m beam_pipelines.compaction --render terraform/sql`; tests/terraform checks they are current).
  # templatefile() fills their two placeholders.
  sql_dir = "${path.module}/sql"
  sql_template_vars = {
    project = var.project_id
    dataset = google_bigquery_dataset.datasets["orders"].dataset_id
  }

  # One view per upserted table, <table>_current (schemas.CURRENT_VIEWS): the exact current state, that is
  # the compacted table plus the newer snapshots of the order_snapshots changelog not compacted yet.
  current_views = { for table, layout in local.table_layouts : "${table}_current" => table if layout.kind == "upserted" }
}

locals {
  # The deployment's datasets, by role. The key is part of the address (google_bigquery_dataset.datasets["orders"]).
  # dbt's models get their own dataset, created here so it lives in the same location as the raw tables
  # (BigQuery cannot query across locations) and under the same key.
  datasets = tomap({
    orders = {
      dataset_id    = var.dataset_id
      friendly_name = "Olist orders (real time)"
      description   = "Orders, items and payments upserted by the streaming pipeline, its dead letters and the Olist reference tables; dbt builds its models from here."
    }
    analytics = {
      dataset_id    = var.analytics_dataset_id
      friendly_name = "Olist orders analytics (dbt)"
      description   = "dbt models built from ${var.dataset_id}: staging, marts (dimensions, facts, KPIs) and rt_* views."
    }
  })
}

resource "google_bigquery_dataset" "datasets" {
  for_each = local.datasets

  project                    = var.project_id
  dataset_id                 = each.value.dataset_id
  friendly_name              = each.value.friendly_name
  description                = each.value.description
  location                   = local.bigquery_location
  delete_contents_on_destroy = var.delete_contents_on_destroy
  labels                     = local.labels

  dynamic "default_encryption_configuration" {
    for_each = local.cmek_keys
    content {
      kms_key_name = default_encryption_configuration.value
    }
  }

  lifecycle {
    precondition {
      condition = (
        length(setsubtract(keys(local.table_layouts), local.schema_files)) == 0 &&
        length(setsubtract(local.schema_files, keys(local.table_layouts))) == 0
      )
      error_message = "schemas/tables.json and schemas/bigquery/*.json must name the same tables."
    }
  }

  depends_on = [google_project_service.enabled, google_kms_crypto_key_iam_member.service_agents]
}

# The datasets were two pasted resources: an existing state moves to the for_each keys, nothing is recreated.
moved {
  from = google_bigquery_dataset.orders
  to   = google_bigquery_dataset.datasets["orders"]
}

moved {
  from = google_bigquery_dataset.analytics
  to   = google_bigquery_dataset.datasets["analytics"]
}

resource "google_bigquery_table" "tables" {
  for_each = local.table_layouts

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.datasets["orders"].dataset_id
  table_id            = each.key
  description         = each.value.description
  schema              = file("${local.schemas_dir}/bigquery/${each.key}.json")
  clustering          = length(each.value.clustering) > 0 ? each.value.clustering : null
  deletion_protection = var.deletion_protection
  labels              = merge(local.labels, { kind = each.value.kind })

  dynamic "time_partitioning" {
    for_each = each.value.partition_field == null ? [] : [each.value.partition_field]
    content {
      type  = try(each.value.partition_type, "DAY")
      field = time_partitioning.value
      # partition_expiration_days, where tables.json gives one (the order_snapshots changelog: the compaction
      # folds it every hour, so a week is only a safety margin); no expiration elsewhere. try(): most
      # entries have no such attribute.
      expiration_ms = try(each.value.partition_expiration_days * 24 * 60 * 60 * 1000, null)
    }
  }

  # BigQuery keys are informational (NOT ENFORCED): the pipeline's MERGE keeps them true, the optimizer
  # uses them for joins.
  dynamic "table_constraints" {
    for_each = length(each.value.primary_key) > 0 ? [each.value.primary_key] : []
    content {
      primary_key {
        columns = table_constraints.value
      }
    }
  }

  dynamic "encryption_configuration" {
    for_each = local.cmek_keys
    content {
      kms_key_name = encryption_configuration.value
    }
  }
}

# The current-state views readers query instead of orders, order_items and order_payments, which only change
# when the compaction runs (compaction.tf). A view stores no data: the tables it reads carry the CMEK key.
resource "google_bigquery_table" "current_views" {
  # checkov:skip=CKV_GCP_80:a view stores no data, so it has no encryption configuration; the tables it reads are encrypted with kms_key_name when set.
  for_each = local.current_views

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.datasets["orders"].dataset_id
  table_id            = each.key
  description         = "Exact current state of ${each.value}: ${each.value} as last compacted, plus the newer snapshots the order_snapshots changelog holds since (python -m beam_pipelines.compaction --render)."
  deletion_protection = var.deletion_protection
  labels              = merge(local.labels, { kind = "current_view" })

  view {
    query          = templatefile("${local.sql_dir}/${each.key}.sql", local.sql_template_vars)
    use_legacy_sql = false
  }

  # BigQuery checks a view's query when it is created: every table it reads must exist.
  depends_on = [google_bigquery_table.tables]
}
