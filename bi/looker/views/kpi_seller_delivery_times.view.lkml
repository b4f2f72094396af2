# dbt model kpi_seller_delivery_times (models/marts/kpi): one row per seller with delivered orders: delivery
# times, late rate and whether the seller is an outlier.
view: kpi_seller_delivery_times {
  sql_table_name: @{analytics_dataset}.kpi_seller_delivery_times ;;

  dimension: seller_id {
    primary_key: yes
    type: string
    sql: ${TABLE}.seller_id ;;
  }

  dimension: seller_city {
    type: string
    sql: ${TABLE}.seller_city ;;
  }

  dimension: seller_state {
    type: string
    sql: ${TABLE}.seller_state ;;
  }

  dimension: delivered_orders {
    type: number
    sql: ${TABLE}.delivered_orders ;;
  }

  dimension: average_delivery_days {
    type: number
    value_format_name: decimal_1
    sql: ${TABLE}.average_delivery_days ;;
  }

  dimension: max_delivery_days {
    type: number
    value_format_name: decimal_1
    sql: ${TABLE}.max_delivery_days ;;
  }

  dimension: late_rate {
    type: number
    value_format_name: percent_1
    sql: ${TABLE}.late_rate ;;
  }

  dimension: slow_order_count {
    type: number
    sql: ${TABLE}.slow_order_count ;;
  }

  dimension: delivery_z_score {
    type: number
    value_format_name: decimal_2
    sql: ${TABLE}.delivery_z_score ;;
  }

  dimension: is_outlier {
    type: yesno
    sql: ${TABLE}.is_outlier ;;
  }

  measure: sellers {
    type: count
  }

  measure: outlier_sellers {
    type: count
    filters: [is_outlier: "yes"]
  }

  measure: total_delivered_orders {
    type: sum
    sql: ${delivered_orders} ;;
  }
}
