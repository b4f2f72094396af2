# dbt model fct_order_items (models/marts/core): one row per order line. On BigQuery partitioned by
# purchase_date (the local purchase day) and clustered by product_id, seller_id: filter on purchase_date.
view: fct_order_items {
  sql_table_name: @{analytics_dataset}.fct_order_items ;;

  dimension: order_item_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: ${TABLE}.order_item_key ;;
  }

  dimension: order_id {
    type: string
    sql: ${TABLE}.order_id ;;
  }

  dimension: order_item_id {
    description: "Line number within the order."
    type: number
    sql: ${TABLE}.order_item_id ;;
  }

  dimension: product_id {
    type: string
    sql: ${TABLE}.product_id ;;
  }

  dimension: seller_id {
    type: string
    sql: ${TABLE}.seller_id ;;
  }

  dimension: customer_unique_id {
    type: string
    sql: ${TABLE}.customer_unique_id ;;
  }

  dimension: customer_state {
    type: string
    sql: ${TABLE}.customer_state ;;
  }

  dimension: customer_city {
    type: string
    sql: ${TABLE}.customer_city ;;
  }

  dimension: order_status {
    type: string
    sql: ${TABLE}.order_status ;;
  }

  dimension: is_sale {
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

  dimension_group: shipping_limit {
    type: time
    timeframes: [raw, time, date]
    sql: ${TABLE}.shipping_limit_at ;;
  }

  dimension: price {
    type: number
    value_format_name: brl
    sql: ${TABLE}.price ;;
  }

  dimension: freight_value {
    type: number
    value_format_name: brl
    sql: ${TABLE}.freight_value ;;
  }

  dimension: line_value {
    description: "Price plus freight, BRL."
    type: number
    value_format_name: brl
    sql: ${TABLE}.line_value ;;
  }

  measure: units {
    type: count
    drill_fields: [order_id, order_item_id, product_id, seller_id, price]
  }

  measure: units_sold {
    type: count
    filters: [is_sale: "yes"]
  }

  measure: orders {
    type: count_distinct
    sql: ${order_id} ;;
  }

  measure: revenue {
    description: "Price plus freight of the sold lines, BRL."
    type: sum
    value_format_name: brl
    sql: ${line_value} ;;
    filters: [is_sale: "yes"]
  }

  measure: items_revenue {
    description: "Price of the sold lines (no freight), BRL."
    type: sum
    value_format_name: brl
    sql: ${price} ;;
    filters: [is_sale: "yes"]
  }

  measure: average_item_price {
    type: average
    value_format_name: brl
    sql: ${price} ;;
  }
}
