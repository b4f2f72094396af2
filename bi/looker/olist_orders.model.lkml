# Olist orders on BigQuery: near-real-time explores on dbt's rt_* views, and the marts (facts, dims, KPIs).
#
# connection: a Looker BigQuery connection (Admin > Database > Connections) to the project that holds
# @{analytics_dataset}. Set its Database Time Zone to UTC (the tables store UTC instants) and its Query Time
# Zone to America/Sao_Paulo, dbt's var reporting_timezone, so that Looker's dates and hours of timestamps are
# the same local days and hours as the marts' (purchase_date, month_start, hour_start...).
connection: "olist_bigquery"
label: "Olist orders"

include: "/views/*.view.lkml"

week_start_day: monday

named_value_format: brl {
  value_format: "\"R$\"#,##0.00"
}

# The rt_* views read the live tables at query time: a cached result is at most a minute old, the refresh
# rate of a Looker Studio data source set to 1 minute. Every query of an rt_* view is a BigQuery query (views
# are not cached by BigQuery), pruned to recent partitions by the view itself.
datagroup: rt_one_minute {
  label: "Near real time (1 minute)"
  description: "Cached results of the rt_* views expire after one minute."
  max_cache_age: "1 minute"
}

# The marts change when dbt builds them: a build changes its tables' last_modified_time (a view's changes only
# when dbt redefines it). __TABLES__ is the dataset's table metadata (a metadata read, no table scanned);
# Looker runs the trigger on its datagroup schedule (every 5 minutes by default).
datagroup: marts_build {
  label: "dbt build of the marts"
  description: "Cached results of the marts last until dbt rebuilds a table of the dataset (or 24 hours)."
  sql_trigger: SELECT MAX(last_modified_time) FROM @{analytics_dataset}.__TABLES__ ;;
  max_cache_age: "24 hours"
}

persist_with: rt_one_minute

# ------------------------------------------------------------------------------------------------------------
# Near real time: dbt's rt_* views (models/realtime), cached for a minute.
# ------------------------------------------------------------------------------------------------------------

explore: rt_live_orders {
  label: "Live orders (last 30 days)"
  description: "Orders bought in the last 30 days in their current state, with the customer's history."
  persist_with: rt_one_minute
  # purchased_at is the partition column (order_purchase_timestamp) of the orders table the view reads: a
  # filter on it prunes partitions further than the view's own 30 days.
  always_filter: {
    filters: [rt_live_orders.purchased_date: "7 days"]
  }

  join: dim_customers {
    type: left_outer
    relationship: many_to_one
    # a first-time customer is in dim_customers from the next dbt build on: left outer keeps the order
    sql_on: ${rt_live_orders.customer_unique_id} = ${dim_customers.customer_unique_id} ;;
  }
}

explore: rt_sales_last_24h_by_hour {
  label: "Sales, last 24 hours by hour"
  description: "Purchases, sales and revenue per local clock hour of the last 24 hours."
  persist_with: rt_one_minute

  join: dim_date {
    type: left_outer
    relationship: many_to_one
    # hour_start is a local wall-clock DATETIME: its date is the local calendar day of dim_date
    sql_on: ${dim_date.date_day} = DATE(${rt_sales_last_24h_by_hour.hour_start_raw}) ;;
  }
}

explore: rt_order_status_funnel {
  label: "Order status funnel (last 30 days)"
  description: "Where the orders of the last 30 days are now, stage by stage of the lifecycle."
  persist_with: rt_one_minute
}

explore: rt_pipeline_health {
  label: "Pipeline health (last hour)"
  description: "Per minute of the last hour: events received, upsert outcomes, dead letters by stage, commit latency."
  persist_with: rt_one_minute
  # minute_start is the partition column of pipeline_metrics, which the view reads and passes through.
  always_filter: {
    filters: [rt_pipeline_health.minute_start_time: "60 minutes"]
  }
}

# ------------------------------------------------------------------------------------------------------------
# History: the marts (models/marts), cached until the next dbt build.
# ------------------------------------------------------------------------------------------------------------

explore: fct_orders {
  label: "Orders"
  description: "One row per order. Partitioned by purchase_date (local day): always filter on it."
  persist_with: marts_build
  always_filter: {
    filters: [fct_orders.purchase_date: "30 days"]
  }

  join: dim_customers {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_orders.customer_unique_id} = ${dim_customers.customer_unique_id} ;;
  }

  join: dim_date {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_orders.purchase_raw} = ${dim_date.date_day} ;;
  }
}

explore: fct_order_items {
  label: "Order items"
  description: "One row per order line. Partitioned by purchase_date (local day): always filter on it."
  persist_with: marts_build
  always_filter: {
    filters: [fct_order_items.purchase_date: "30 days"]
  }

  join: dim_products {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_order_items.product_id} = ${dim_products.product_id} ;;
  }

  join: dim_sellers {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_order_items.seller_id} = ${dim_sellers.seller_id} ;;
  }

  join: dim_customers {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_order_items.customer_unique_id} = ${dim_customers.customer_unique_id} ;;
  }

  join: dim_date {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_order_items.purchase_raw} = ${dim_date.date_day} ;;
  }
}

explore: kpi_revenue_daily {
  label: "KPI: revenue by day"
  persist_with: marts_build

  join: dim_date {
    type: left_outer
    relationship: one_to_one
    sql_on: ${kpi_revenue_daily.date_day} = ${dim_date.date_day} ;;
  }
}

explore: kpi_revenue_monthly {
  label: "KPI: revenue by month"
  persist_with: marts_build
}

explore: kpi_channel_reviews_monthly {
  label: "KPI: sales and reviews by channel and month"
  persist_with: marts_build
}

explore: kpi_revenue_peak_hours {
  label: "KPI: revenue by day of week and hour"
  persist_with: marts_build
}

explore: kpi_customer_growth_monthly {
  label: "KPI: customer growth by month"
  persist_with: marts_build
}

explore: kpi_retention_cohorts_monthly {
  label: "KPI: retention by monthly cohort"
  persist_with: marts_build
}

explore: kpi_orders_by_state {
  label: "KPI: orders by customer state"
  persist_with: marts_build
}

explore: kpi_orders_by_city {
  label: "KPI: orders by customer city"
  persist_with: marts_build
}

explore: kpi_product_sales_monthly {
  label: "KPI: product sales by month"
  persist_with: marts_build

  join: dim_products {
    type: left_outer
    relationship: many_to_one
    sql_on: ${kpi_product_sales_monthly.product_id} = ${dim_products.product_id} ;;
  }
}

explore: kpi_category_sales_monthly {
  label: "KPI: category sales by month"
  persist_with: marts_build
}

explore: kpi_seller_sales_monthly {
  label: "KPI: seller sales by month"
  persist_with: marts_build

  join: dim_sellers {
    type: left_outer
    relationship: many_to_one
    sql_on: ${kpi_seller_sales_monthly.seller_id} = ${dim_sellers.seller_id} ;;
  }
}

explore: kpi_seller_delivery_times {
  label: "KPI: seller delivery times"
  persist_with: marts_build

  join: dim_sellers {
    type: left_outer
    relationship: one_to_one
    sql_on: ${kpi_seller_delivery_times.seller_id} = ${dim_sellers.seller_id} ;;
  }
}

explore: kpi_top_products_recent {
  label: "KPI: top products, recent weeks"
  persist_with: marts_build

  join: dim_products {
    type: left_outer
    relationship: many_to_one
    sql_on: ${kpi_top_products_recent.product_id} = ${dim_products.product_id} ;;
  }
}

explore: kpi_top_categories_recent {
  label: "KPI: top categories, recent weeks"
  persist_with: marts_build
}
