# dbt model dim_sellers (models/marts/core): catalog sellers plus sellers named by order lines but not (yet)
# loaded (is_in_catalog = no).
view: dim_sellers {
  sql_table_name: @{analytics_dataset}.dim_sellers ;;

  dimension: seller_id {
    primary_key: yes
    type: string
    sql: ${TABLE}.seller_id ;;
  }

  dimension: seller_zip_code_prefix {
    type: zipcode
    sql: ${TABLE}.seller_zip_code_prefix ;;
  }

  dimension: seller_city {
    type: string
    sql: ${TABLE}.seller_city ;;
  }

  dimension: seller_state {
    type: string
    sql: ${TABLE}.seller_state ;;
  }

  dimension: is_in_catalog {
    type: yesno
    sql: ${TABLE}.is_in_catalog ;;
  }

  measure: sellers {
    type: count_distinct
    sql: ${seller_id} ;;
  }
}
