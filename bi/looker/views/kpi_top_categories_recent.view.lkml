# dbt model kpi_top_categories_recent (models/marts/kpi): one row per (window of the last N weeks, category) with
# sales, N in var recent_window_weeks; the weeks end at the latest purchase (as_of_date).
view: kpi_top_categories_recent {
  sql_table_name: @{analytics_dataset}.kpi_top_categories_recent ;;

  dimension: window_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: CONCAT(CAST(${TABLE}.window_weeks AS STRING), '/', ${TABLE}.category_name) ;;
  }

  dimension: window_weeks {
    description: "Length of the window, in weeks: filter on one."
    type: number
    sql: ${TABLE}.window_weeks ;;
  }

  dimension: as_of_date {
    type: date
    datatype: date
    convert_tz: no
    sql: ${TABLE}.as_of_date ;;
  }

  dimension: category_name {
    type: string
    sql: ${TABLE}.category_name ;;
  }

  dimension: units_sold {
    type: number
    sql: ${TABLE}.units_sold ;;
  }

  dimension: revenue {
    type: number
    value_format_name: brl
    sql: ${TABLE}.revenue ;;
  }

  dimension: revenue_rank {
    description: "Rank by revenue within the window (1 = top)."
    type: number
    sql: ${TABLE}.revenue_rank ;;
  }

  measure: total_units_sold {
    type: sum
    sql: ${units_sold} ;;
  }

  measure: total_revenue {
    type: sum
    value_format_name: brl
    sql: ${revenue} ;;
  }
}
