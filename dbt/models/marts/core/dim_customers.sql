with

orders as (

    select * from {{ ref('stg_orders_rt__orders') }}

),

ranked_orders as (

    select
        customer_unique_id,
        customer_zip_code_prefix,
        customer_city,
        customer_state,
        row_number() over (
            partition by customer_unique_id
            order by purchased_at desc, order_id desc
        ) as recency_rank

    from orders

),

latest_location as (

    select * from ranked_orders
    where recency_rank = 1

),

order_summary as (

    select
        customer_unique_id,
        min(purchased_at) as first_order_at,
        max(purchased_at) as last_order_at,
        count(*) as order_count

    from orders
    group by customer_unique_id

),

final as (

    select
        order_summary.customer_unique_id,
        latest_location.customer_zip_code_prefix,
        latest_location.customer_city,
        latest_location.customer_state,
        order_summary.first_order_at,
        order_summary.last_order_at,
        {{ local_date('order_summary.first_order_at') }} as first_order_date,
        {{ local_month('order_summary.first_order_at') }} as cohort_month,
        order_summary.order_count,
        order_summary.order_count > 1 as is_repeat_customer

    from order_summary
    inner join latest_location
        on order_summary.customer_unique_id = latest_location.customer_unique_id

)

select * from final
