# dbt model kpi_customer_growth_monthly (models/marts/kpi): one row per local month: new, active and
# cumulative customers.
view: kpi_customer_growth_monthly {
  sql_table_name: @{analytics_dataset}.kpi_customer_growth_monthly ;;

  dimension_group: month {
    type: time
    datatype: date
    convert_tz: no
    timeframes: [raw, month, quarter, year]
    sql: ${TABLE}.month_start ;;
  }

  dimension: month_key {
    primary_key: yes
    hidden: yes
    type: string
    sql: CAST(${TABLE}.month_start AS STRING) ;;
  }

  dimension: new_customers {
    type: number
    sql: ${TABLE}.new_customers ;;
  }

  dimension: active_customers {
    type: number
    sql: ${TABLE}.active_customers ;;
  }

  dimension: cumulative_customers {
    type: number
    sql: ${TABLE}.cumulative_customers ;;
  }

  dimension: customer_growth_rate {
    type: number
    value_format_name: percent_1
    sql: ${TABLE}.customer_growth_rate ;;
  }

  measure: total_new_customers {
    type: sum
    sql: ${new_customers} ;;
  }

  measure: latest_cumulative_customers {
    type: max
    sql: ${cumulative_customers} ;;
  }
}
