# dbt model rt_live_orders (models/realtime): one row per order bought in the last 30 days
# (var rt_live_orders_days), in its current state. A view over the live tables, read at query time.
view: rt_live_orders {
  sql_table_name: @{analytics_dataset}.rt_live_orders ;;

  dimension: order_id {
    primary_key: yes
    type: string
    sql: ${TABLE}.order_id ;;
  }

  dimension: customer_unique_id {
    type: string
    sql: ${TABLE}.customer_unique_id ;;
  }

  dimension: customer_city {
    type: string
    sql: ${TABLE}.customer_city ;;
  }

  dimension: customer_state {
    type: string
    sql: ${TABLE}.customer_state ;;
  }

  dimension: order_status {
    type: string
    sql: ${TABLE}.order_status ;;
  }

  dimension: is_open {
    label: "Is Open"
    description: "Not yet delivered, canceled or unavailable."
    type: yesno
    sql: ${TABLE}.is_open ;;
  }

  # The partition column of the orders table (order_purchase_timestamp): filter on it.
  dimension_group: purchased {
    type: time
    timeframes: [raw, time, minute, hour, hour_of_day, date, day_of_week, week, month]
    sql: ${TABLE}.purchased_at ;;
  }

  dimension_group: estimated_delivery {
    type: time
    timeframes: [raw, date, week]
    sql: ${TABLE}.estimated_delivery_at ;;
  }

  dimension_group: delivered_to_customer {
    type: time
    timeframes: [raw, time, date]
    sql: ${TABLE}.delivered_to_customer_at ;;
  }

  dimension: item_count {
    type: number
    sql: ${TABLE}.item_count ;;
  }

  dimension: order_value {
    description: "Items plus freight, BRL."
    type: number
    value_format_name: brl
    sql: ${TABLE}.order_value ;;
  }

  dimension: payment_total {
    type: number
    value_format_name: brl
    sql: ${TABLE}.payment_total ;;
  }

  dimension: last_event_type {
    type: string
    sql: ${TABLE}.last_event_type ;;
  }

  dimension: snapshot_sequence {
    type: number
    sql: ${TABLE}.snapshot_sequence ;;
  }

  dimension_group: last_event {
    type: time
    timeframes: [raw, time, minute]
    sql: ${TABLE}.last_event_at ;;
  }

  dimension_group: ingested {
    type: time
    timeframes: [raw, time, minute]
    sql: ${TABLE}.ingested_at ;;
  }

  dimension: ingest_lag_seconds {
    description: "Seconds from the order's last event to its write in BigQuery."
    type: number
    sql: ${TABLE}.ingest_lag_seconds ;;
  }

  dimension: seconds_since_update {
    description: "Seconds since the order's snapshot was written, at query time."
    type: number
    sql: ${TABLE}.seconds_since_update ;;
  }

  measure: count {
    label: "Orders"
    type: count
    drill_fields: [order_id, order_status, purchased_time, order_value, customer_state]
  }

  measure: open_orders {
    type: count
    filters: [is_open: "yes"]
  }

  measure: total_order_value {
    type: sum
    value_format_name: brl
    sql: ${order_value} ;;
  }

  measure: average_order_value {
    type: average
    value_format_name: brl
    sql: ${order_value} ;;
  }

  measure: total_payments {
    type: sum
    value_format_name: brl
    sql: ${payment_total} ;;
  }

  measure: total_items {
    type: sum
    sql: ${item_count} ;;
  }

  measure: average_ingest_lag_seconds {
    type: average
    value_format_name: decimal_1
    sql: ${ingest_lag_seconds} ;;
  }

  measure: max_ingest_lag_seconds {
    type: max
    sql: ${ingest_lag_seconds} ;;
  }

  measure: seconds_since_latest_update {
    description: "Freshness: seconds since the most recent write among the selected orders."
    type: min
    sql: ${seconds_since_update} ;;
  }
}
