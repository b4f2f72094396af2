# dbt model kpi_channel_reviews_monthly (models/marts/kpi): one row per local calendar month and sales channel
# (schema version 2); orders of version 1 producers are the channel "unknown".
view: kpi_channel_reviews_monthly {
  sql_table_name: @{analytics_dataset}.kpi_channel_reviews_monthly ;;

  dimension_group: month {
    type: time
    datatype: date
    convert_tz: no
    timeframes: [raw, month, quarter, year]
    sql: ${TABLE}.month_start ;;
  }

  dimension: channel {
    type: string
    sql: ${TABLE}.channel ;;
  }

  dimension: month_channel_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: CONCAT(CAST(${TABLE}.month_start AS STRING), '/', ${TABLE}.channel) ;;
  }

  dimension: order_count {
    type: number
    sql: ${TABLE}.order_count ;;
  }

  dimension: revenue {
    type: number
    value_format_name: brl
    sql: ${TABLE}.revenue ;;
  }

  dimension: review_count {
    type: number
    sql: ${TABLE}.review_count ;;
  }

  dimension: average_review_score {
    description: "Mean 1-5 score of the month's reviewed orders in this channel."
    type: number
    value_format_name: decimal_2
    sql: ${TABLE}.average_review_score ;;
  }

  dimension: low_score_share {
    description: "Share of reviews scored 1 or 2."
    type: number
    value_format_name: percent_1
    sql: ${TABLE}.low_score_share ;;
  }

  measure: total_orders {
    type: sum
    sql: ${order_count} ;;
  }

  measure: total_revenue {
    type: sum
    value_format_name: brl
    sql: ${revenue} ;;
  }

  measure: total_reviews {
    type: sum
    sql: ${review_count} ;;
  }
}
