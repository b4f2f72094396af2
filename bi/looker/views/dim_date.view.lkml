# dbt model dim_date (models/marts/core): one row per calendar day, 2016 to 2030 (vars dim_date_start/end).
view: dim_date {
  sql_table_name: @{analytics_dataset}.dim_date ;;

  dimension: date_day {
    primary_key: yes
    type: date
    datatype: date
    convert_tz: no
    sql: ${TABLE}.date_day ;;
  }

  dimension: year_number {
    type: number
    value_format_name: id
    sql: ${TABLE}.year_number ;;
  }

  dimension: quarter_number {
    type: number
    sql: ${TABLE}.quarter_number ;;
  }

  dimension: month_number {
    type: number
    sql: ${TABLE}.month_number ;;
  }

  dimension: month_name {
    type: string
    order_by_field: month_number
    sql: ${TABLE}.month_name ;;
  }

  dimension: day_of_month {
    type: number
    sql: ${TABLE}.day_of_month ;;
  }

  dimension: iso_day_of_week {
    description: "1 = Monday ... 7 = Sunday."
    type: number
    sql: ${TABLE}.iso_day_of_week ;;
  }

  dimension: day_name {
    type: string
    order_by_field: iso_day_of_week
    sql: ${TABLE}.day_name ;;
  }

  dimension: is_weekend {
    type: yesno
    sql: ${TABLE}.is_weekend ;;
  }

  dimension: month_start {
    type: date
    datatype: date
    convert_tz: no
    sql: ${TABLE}.month_start ;;
  }

  dimension: week_start {
    description: "Monday of the ISO week."
    type: date
    datatype: date
    convert_tz: no
    sql: ${TABLE}.week_start ;;
  }
}
