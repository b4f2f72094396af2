# LookML project manifest: the BigQuery dataset dbt builds into, in one place.
# It is terraform's analytics_dataset_id and dbt's DBT_BIGQUERY_DATASET (default orders_analytics): change
# the value here if you deployed another one. Every view's sql_table_name reads @{analytics_dataset}.
project_name: "olist_orders"

constant: analytics_dataset {
  value: "orders_analytics"
  export: override_optional
}
