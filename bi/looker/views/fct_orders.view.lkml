# dbt model fct_orders (models/marts/core): one row per order. On BigQuery an incremental table partitioned
# by purchase_date (the local purchase day) and clustered by order_id: filter on purchase_date.
view: fct_orders {
  sql_table_name: @{analytics_dataset}.fct_orders ;;

  dimension: order_id {
    primary_key: yes
    type: string
    sql: ${TABLE}.order_id ;;
  }

  dimension: customer_id {
    hidden: yes
    type: string
    sql: ${TABLE}.customer_id ;;
  }

  dimension: customer_unique_id {
    type: string
    sql: ${TABLE}.customer_unique_id ;;
  }

  dimension: customer_zip_code_prefix {
    type: zipcode
    sql: ${TABLE}.customer_zip_code_prefix ;;
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

  dimension: channel {
    description: "Sales channel (schema version 2); null for orders from version 1 producers."
    type: string
    sql: ${TABLE}.channel ;;
  }

  dimension: review_score {
    description: "The customer's review score 1-5 (schema version 2); null until reviewed."
    type: number
    sql: ${TABLE}.review_score ;;
  }

  dimension: is_sale {
    description: "Neither canceled nor unavailable."
    type: yesno
    sql: ${TABLE}.is_sale ;;
  }

  dimension_group: purchased {
    type: time
    timeframes: [raw, time, hour_of_day, day_of_week]
    sql: ${TABLE}.purchased_at ;;
  }

  # The partition column: the local purchase day (var reporting_timezone), a DATE.
  dimension_group: purchase {
    type: time
    datatype: date
    convert_tz: no
    timeframes: [raw, date, week, month, quarter, year]
    sql: ${TABLE}.purchase_date ;;
  }

  dimension_group: approved {
    type: time
    timeframes: [raw, time, date]
    sql: ${TABLE}.approved_at ;;
  }

  dimension_group: delivered_to_carrier {
    type: time
    timeframes: [raw, time, date]
    sql: ${TABLE}.delivered_to_carrier_at ;;
  }

  dimension_group: delivered_to_customer {
    type: time
    timeframes: [raw, time, date]
    sql: ${TABLE}.delivered_to_customer_at ;;
  }

  dimension_group: estimated_delivery {
    type: time
    timeframes: [raw, date]
    sql: ${TABLE}.estimated_delivery_at ;;
  }

  dimension: item_count {
    type: number
    sql: ${TABLE}.item_count ;;
  }

  dimension: distinct_product_count {
    type: number
    sql: ${TABLE}.distinct_product_count ;;
  }

  dimension: seller_count {
    type: number
    sql: ${TABLE}.seller_count ;;
  }

  dimension: items_value {
    type: number
    value_format_name: brl
    sql: ${TABLE}.items_value ;;
  }

  dimension: freight_value {
    type: number
    value_format_name: brl
    sql: ${TABLE}.freight_value ;;
  }

  dimension: order_value {
    description: "Items plus freight, BRL."
    type: number
    value_format_name: brl
    sql: ${TABLE}.order_value ;;
  }

  dimension: payment_count {
    type: number
    sql: ${TABLE}.payment_count ;;
  }

  dimension: payment_total {
    type: number
    value_format_name: brl
    sql: ${TABLE}.payment_total ;;
  }

  dimension: max_installments {
    type: number
    sql: ${TABLE}.max_installments ;;
  }

  dimension: delivery_days {
    description: "Elapsed days from purchase to delivery (36 hours = 1.5)."
    type: number
    sql: ${TABLE}.delivery_days ;;
  }

  dimension: is_late {
    description: "Delivered after the promised local day."
    type: yesno
    sql: ${TABLE}.is_late ;;
  }

  dimension: last_event_type {
    type: string
    sql: ${TABLE}.last_event_type ;;
  }

  dimension: snapshot_sequence {
    hidden: yes
    type: number
    sql: ${TABLE}.snapshot_sequence ;;
  }

  dimension_group: last_event {
    type: time
    timeframes: [raw, time]
    sql: ${TABLE}.last_event_at ;;
  }

  dimension_group: ingested {
    type: time
    timeframes: [raw, time]
    sql: ${TABLE}.ingested_at ;;
  }

  measure: count {
    label: "Orders"
    type: count
    drill_fields: [order_id, order_status, purchase_date, order_value, customer_state]
  }

  measure: sales {
    type: count
    filters: [is_sale: "yes"]
  }

  measure: revenue {
    description: "Items plus freight of the sales, BRL."
    type: sum
    value_format_name: brl
    sql: ${order_value} ;;
    filters: [is_sale: "yes"]
  }

  measure: average_order_value {
    type: number
    value_format_name: brl
    sql: ${revenue} / NULLIF(${sales}, 0) ;;
  }

  measure: total_freight {
    type: sum
    value_format_name: brl
    sql: ${freight_value} ;;
    filters: [is_sale: "yes"]
  }

  measure: customers {
    type: count_distinct
    sql: ${customer_unique_id} ;;
  }

  measure: average_delivery_days {
    type: average
    value_format_name: decimal_1
    sql: ${delivery_days} ;;
  }

  measure: late_deliveries {
    type: count
    filters: [is_late: "yes"]
  }

  measure: late_rate {
    type: number
    value_format_name: percent_1
    sql: ${late_deliveries} / NULLIF(COUNT(${delivery_days}), 0) ;;
  }

  measure: average_review_score {
    type: average
    value_format_name: decimal_2
    sql: ${review_score} ;;
  }
}
